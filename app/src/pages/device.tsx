// One device: a control per datastream of its template, the way Blynk's
// widgets are chosen (a 0..1 integer is a switch, another number a slider
// with a number entry, an enum a segmented control, a string a text
// entry), or a read-only display when the person may only view it. A
// command's fate is said: sent, waiting for the device to confirm, or
// queued until it connects; a refusal in the hub's own words.
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, type Datastream, type DeviceDetail, type Me, type Outcome } from '../api';
import type { LiveState, LiveValue } from '../live';
import { Problem } from '../components';
import { ago, lastSeen } from '../time';
import { HistoryChart } from './history';
import { Events } from './events';
import { SharingPanel } from './sharing';
import { ON_CLOUD } from '../router';

type Note = { pin: number; text: string; kind: 'info' | 'problem' };

function display(ds: Datastream, value: LiveValue | undefined): string {
  if (!value) return '—';
  if (ds.type === 'int' && ds.min === 0 && ds.max === 1) return value.value === '1' ? 'On' : 'Off';
  return ds.unit ? `${value.value} ${ds.unit}` : value.value;
}

function Control(props: {
  ds: Datastream;
  value: LiveValue | undefined;
  canControl: boolean;
  send: (value: string | number) => void;
}) {
  const { ds, value, canControl, send } = props;
  const id = `pin-${ds.pin}`;
  const current = value?.pending ?? value?.value;
  if (!canControl) {
    return <output id={id} class="reading" aria-labelledby={`${id}-label`}>{display(ds, value)}</output>;
  }
  if (ds.type === 'int' && ds.min === 0 && ds.max === 1) {
    const on = current === '1';
    return (
      <button id={id} type="button" role="switch" class={`switch ${on ? 'on' : ''}`} aria-checked={on}
        aria-labelledby={`${id}-label`} onClick={() => send(on ? 0 : 1)}>
        {on ? 'On' : 'Off'}
      </button>
    );
  }
  if (ds.type === 'int' || ds.type === 'double') {
    const step = ds.step ?? (ds.type === 'int' ? 1 : (ds.max - ds.min) / 100);
    return <Slider id={id} ds={ds} step={step} current={current} send={send} />;
  }
  if (ds.type === 'enum') {
    return (
      <div class="segments" role="radiogroup" aria-labelledby={`${id}-label`}>
        {ds.values.map((v) => (
          <button type="button" role="radio" aria-checked={current === v} class={current === v ? 'chosen' : ''}
            onClick={() => send(v)}>{v}</button>
        ))}
      </div>
    );
  }
  return <TextEntry id={id} current={current} send={send} />;
}

function Slider(props: { id: string; ds: Datastream & { min: number; max: number }; step: number; current: string | undefined; send: (v: number) => void }) {
  const { id, ds, step, current, send } = props;
  const [draft, setDraft] = useState(current ?? String(ds.min));
  useEffect(() => setDraft(current ?? String(ds.min)), [current]);
  const commit = (text: string) => {
    const n = Number(text);
    if (Number.isFinite(n)) send(Math.min(ds.max, Math.max(ds.min, n)));
  };
  return (
    <div class="slider">
      <input id={id} type="range" min={ds.min} max={ds.max} step={step} value={draft} aria-labelledby={`${id}-label`}
        onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        onChange={(e) => commit((e.target as HTMLInputElement).value)} />
      <input type="number" min={ds.min} max={ds.max} step={step} value={draft} aria-label={`${ds.name}, exact value`}
        onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        onChange={(e) => commit((e.target as HTMLInputElement).value)} />
      {ds.unit && <span>{ds.unit}</span>}
    </div>
  );
}

function TextEntry({ id, current, send }: { id: string; current: string | undefined; send: (v: string) => void }) {
  const [draft, setDraft] = useState(current ?? '');
  return (
    <form class="text-entry" onSubmit={(e) => { e.preventDefault(); send(draft); }}>
      <input id={id} value={draft} aria-labelledby={`${id}-label`} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} />
      <button type="submit">Send</button>
    </form>
  );
}

const OUTCOME: Record<Outcome, string> = {
  sent: 'Sent.',
  pending: 'Sent: waiting for the device to confirm.',
  queued: 'The device is offline: it gets this when it connects.',
};

const GONE = 'You cannot see this device: it was deleted, or what let you see it (a share, a role) has ended.';

export function DevicePage({ me, id, live }: { me: Me; id: string; live: LiveState }) {
  const [detail, setDetail] = useState<DeviceDetail | null>(null);
  const [problem, setProblem] = useState('');
  const [note, setNote] = useState<Note | null>(null);
  // The device as the stream last listed it (a rename, a share ending,
  // another template).
  const listed = live.devices?.find((d) => d.id === id);

  useEffect(() => {
    api.device(id).then(setDetail, (e: Error) =>
      setProblem(e instanceof ApiFailure && e.status === 404 ? GONE : e.message));
  }, [id, listed?.name, listed?.level, listed?.template?.id]);

  if (problem) return <main class="page"><h1>Device</h1><Problem text={problem} /></main>;
  if (!detail) return <main class="page" aria-busy="true"><p>Loading…</p></main>;
  if (live.devices && !listed) {
    return <main class="page"><h1>{detail.name}</h1><Problem text={GONE} /></main>;
  }
  const t = live.telemetry[id];
  const canControl = (listed?.level ?? detail.level) === 'control';
  const seen = lastSeen(t, live.offlineSince[id]);

  const send = async (ds: Datastream, value: string | number) => {
    setNote(null);
    try {
      const { outcome } = await api.write(id, ds.pin, value);
      // A pending value says so itself, until the device confirms it.
      if (outcome !== 'pending') setNote({ pin: ds.pin, text: OUTCOME[outcome], kind: 'info' });
    } catch (e) {
      setNote({ pin: ds.pin, text: e instanceof ApiFailure ? e.message : String(e), kind: 'problem' });
    }
  };

  return (
    <main class="page">
      <h1>{detail.name}</h1>
      <p class="where">{detail.org_path.length ? detail.org_path.join(' › ') : 'Shared with you'}{detail.template ? ` · ${detail.template.name}` : ''}</p>
      <p class={`status ${t?.online ? 'online' : 'offline'}`}>
        {t?.online ? 'Online' : `Offline${seen ? `, last seen ${ago(seen)}` : ''}`}
      </p>
      {!canControl && (
        <p class="notice" role="note">You can see this device but not control it: {detail.view_only?.message ?? 'you were given view access only'}.</p>
      )}
      {canControl && !t?.online && (
        <p class="notice" role="note">
          {ON_CLOUD
            ? 'Away from home this device is reached through its hub, and neither is connected now: its hub may be off or offline. What you send is refused until they are back.'
            : 'The device is offline: what you send waits until it connects.'}
        </p>
      )}
      {detail.definition.datastreams.length === 0 && <p>This device has no datastreams to show.</p>}
      <ul class="controls" aria-label="Datastreams">
        {detail.definition.datastreams.map((ds) => {
          const value = t?.values[`V${ds.pin}`];
          return (
            <li key={ds.pin} class="control" data-pin={ds.pin}>
              <span id={`pin-${ds.pin}-label`} class="label">{ds.name}</span>
              <Control ds={ds} value={value} canControl={canControl} send={(v) => send(ds, v)} />
              {value?.pending !== undefined && <span class="pending" role="status">Waiting for the device to confirm…</span>}
              {value && <span class="when">updated {ago(value.at)}</span>}
              {note?.pin === ds.pin && (
                <span class={note.kind} role={note.kind === 'problem' ? 'alert' : 'status'}>{note.text}</span>
              )}
              {(ds.type === 'int' || ds.type === 'double') && ds.history !== false && (
                <details>
                  <summary>History</summary>
                  <HistoryChart device={id} ds={ds} />
                </details>
              )}
            </li>
          );
        })}
      </ul>
      <Events detail={detail} newest={live.lastEvent[id] ?? 0} />
      <SharingPanel me={me} detail={detail} />
    </main>
  );
}
