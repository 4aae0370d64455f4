// Editing a template's definition: one row per datastream (virtual pin,
// name, type, range and step, default, unit, the values of an enum,
// history and how long raw history is kept, sync on connect, wait for the
// device to confirm, stale after) and one per event (the code firmware
// logs, its name, whether it notifies). Numbers are checked as numbers
// here; everything else the hub checks and says.
import { useId } from 'preact/hooks';
import type { Definition } from '../api';

type Kind = 'int' | 'double' | 'string' | 'enum';
type Stream = {
  pin: string; name: string; type: Kind; min: string; max: string; step: string; default: string;
  unit: string; values: string; history: boolean; retention: string; sync: boolean; confirm: boolean; stale: string;
};
type EventDraft = { code: string; name: string; notify: boolean };
export type Draft = { streams: Stream[]; events: EventDraft[] };

const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));

export function draftOf(d: Definition): Draft {
  return {
    streams: (d.datastreams ?? []).map((ds) => ({
      pin: String(ds.pin), name: ds.name, type: ds.type as Kind,
      min: text('min' in ds ? ds.min : ''), max: text('max' in ds ? ds.max : ''), step: text('step' in ds ? ds.step : ''),
      default: text(ds.default), unit: text(ds.unit), values: 'values' in ds ? ds.values.join(', ') : '',
      history: ds.history !== false, retention: text(ds.retention_days), sync: !!ds.sync_on_connect,
      confirm: !!ds.wait_for_confirmation, stale: text(ds.invalidate_after_secs),
    })),
    events: (d.events ?? []).map((e) => ({ code: e.code, name: e.name, notify: !!e.notify })),
  };
}

function number(s: Stream, field: string, value: string, whole: boolean): number | null {
  if (value.trim() === '') return null;
  const n = Number(value);
  if (!Number.isFinite(n) || (whole && !Number.isInteger(n))) {
    throw new Error(`Datastream V${s.pin} (${s.name || 'unnamed'}): ${field} must be ${whole ? 'a whole number' : 'a number'}.`);
  }
  return n;
}

function required(s: Stream, field: string, value: string, whole: boolean): number {
  const n = number(s, field, value, whole);
  if (n === null) throw new Error(`Datastream V${s.pin} (${s.name || 'unnamed'}): give it a ${field}.`);
  return n;
}

/** The definition a draft stands for; a number that is not one is said. */
export function definitionOf(draft: Draft): Definition {
  const datastreams = draft.streams.map((s) => {
    const pin = number(s, 'pin', s.pin, true);
    if (pin === null || pin < 0 || pin > 255) throw new Error(`A datastream's pin must be V0 to V255 (not "${s.pin}").`);
    const common = {
      pin, name: s.name.trim(), unit: s.unit.trim() || null, history: s.history,
      retention_days: number(s, 'retention in days', s.retention, true), sync_on_connect: s.sync,
      wait_for_confirmation: s.confirm, invalidate_after_secs: number(s, 'stale after', s.stale, true),
    };
    const whole = s.type === 'int';
    if (s.type === 'int' || s.type === 'double') {
      return {
        ...common, type: s.type, min: required(s, 'minimum', s.min, whole), max: required(s, 'maximum', s.max, whole),
        step: number(s, 'step', s.step, whole), default: number(s, 'default', s.default, whole),
      };
    }
    if (s.type === 'enum') {
      const values = s.values.split(',').map((v) => v.trim()).filter(Boolean);
      return { ...common, type: 'enum' as const, values, default: s.default.trim() || null };
    }
    return { ...common, type: 'string' as const, default: s.default || null };
  });
  const events = draft.events.map((e) => ({ code: e.code.trim(), name: e.name.trim(), notify: e.notify }));
  return { datastreams, events } as Definition;
}

const blank = (pin: number): Stream => ({
  pin: String(pin), name: '', type: 'int', min: '0', max: '1', step: '', default: '', unit: '', values: '',
  history: true, retention: '', sync: false, confirm: false, stale: '',
});

function StreamRow({ s, n, form, set, drop }: { s: Stream; n: number; form: string; set: (s: Stream) => void; drop: () => void }) {
  const id = (f: string) => `${form}ds-${n}-${f}`;
  const input = (f: keyof Stream, label: string, attrs: Record<string, unknown> = {}) => (
    <div class="field">
      <label for={id(f)}>{label}</label>
      <input id={id(f)} value={s[f] as string} {...attrs}
        onInput={(e) => set({ ...s, [f]: (e.target as HTMLInputElement).value })} />
    </div>
  );
  const check = (f: keyof Stream, label: string) => (
    <label class="check">
      <input type="checkbox" checked={s[f] as boolean} onChange={(e) => set({ ...s, [f]: (e.target as HTMLInputElement).checked })} />
      {label}
    </label>
  );
  const numeric = s.type === 'int' || s.type === 'double';
  return (
    <fieldset class="datastream" data-pin={s.pin}>
      <legend>V{s.pin} {s.name}</legend>
      {input('pin', 'Pin (V)', { inputMode: 'numeric', required: true })}
      {input('name', 'Name', { required: true })}
      <div class="field">
        <label for={id('type')}>Type</label>
        <select id={id('type')} value={s.type} onChange={(e) => set({ ...s, type: (e.target as HTMLSelectElement).value as Kind })}>
          <option value="int">Whole number</option>
          <option value="double">Number</option>
          <option value="enum">One of a list</option>
          <option value="string">Text</option>
        </select>
      </div>
      {numeric && input('min', 'Minimum', { inputMode: 'decimal' })}
      {numeric && input('max', 'Maximum', { inputMode: 'decimal' })}
      {numeric && input('step', 'Step', { inputMode: 'decimal' })}
      {s.type === 'enum' && input('values', 'Values (comma-separated)')}
      {input('default', 'Default')}
      {input('unit', 'Unit')}
      {input('retention', 'Keep raw history (days)', { inputMode: 'numeric' })}
      {input('stale', 'Stale after (seconds)', { inputMode: 'numeric' })}
      <div class="checks">
        {check('history', 'Keep history')}
        {check('sync', 'Send to the device when it connects')}
        {check('confirm', 'Wait for the device to confirm a command')}
      </div>
      <button type="button" class="secondary small" onClick={drop}>Remove V{s.pin}</button>
    </fieldset>
  );
}

export function DefinitionEditor({ draft, set }: { draft: Draft; set: (d: Draft) => void }) {
  // Two editors can be on one page (a template's and a new one's): ids are per editor.
  const form = useId();
  const streams = (streams: Stream[]) => set({ ...draft, streams });
  const events = (events: EventDraft[]) => set({ ...draft, events });
  const nextPin = () => {
    const used = new Set(draft.streams.map((s) => Number(s.pin)));
    let pin = 0;
    while (used.has(pin) && pin < 255) pin += 1;
    return pin;
  };
  return (
    <div class="definition">
      <h3>Datastreams</h3>
      {draft.streams.length === 0 && <p>No datastreams yet.</p>}
      {draft.streams.map((s, n) => (
        <StreamRow key={n} s={s} n={n} form={form} set={(next) => streams(draft.streams.map((x, i) => (i === n ? next : x)))}
          drop={() => streams(draft.streams.filter((_, i) => i !== n))} />
      ))}
      <button type="button" class="secondary" onClick={() => streams([...draft.streams, blank(nextPin())])}>Add a datastream</button>
      <h3>Events</h3>
      {draft.events.length === 0 && <p>No events yet.</p>}
      {draft.events.map((e, n) => (
        <fieldset key={n} class="event">
          <legend>Event {e.code || n + 1}</legend>
          <div class="field">
            <label for={`${form}ev-${n}-code`}>Code</label>
            <input id={`${form}ev-${n}-code`} value={e.code} required
              onInput={(x) => events(draft.events.map((y, i) => (i === n ? { ...y, code: (x.target as HTMLInputElement).value } : y)))} />
          </div>
          <div class="field">
            <label for={`${form}ev-${n}-name`}>Name</label>
            <input id={`${form}ev-${n}-name`} value={e.name} required
              onInput={(x) => events(draft.events.map((y, i) => (i === n ? { ...y, name: (x.target as HTMLInputElement).value } : y)))} />
          </div>
          <label class="check">
            <input type="checkbox" checked={e.notify}
              onChange={(x) => events(draft.events.map((y, i) => (i === n ? { ...y, notify: (x.target as HTMLInputElement).checked } : y)))} />
            Notify
          </label>
          <button type="button" class="secondary small" onClick={() => events(draft.events.filter((_, i) => i !== n))}>Remove event</button>
        </fieldset>
      ))}
      <button type="button" class="secondary" onClick={() => events([...draft.events, { code: '', name: '', notify: false }])}>Add an event</button>
    </div>
  );
}
