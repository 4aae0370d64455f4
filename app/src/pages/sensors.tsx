// Bluetooth sensors, for whoever manages devices: the adoption inbox
// (each sensor a bridge heard that no device claims yet, with what it
// reports, or why it could not be read: an encrypted one needs its bind
// key) to adopt as a device (organization, name, template, bind key, and
// which datastream each reading goes to) or dismiss; and the BLE bridges
// (Theengs Gateway, OpenMQTTGateway), added with their token shown once
// and the MQTT settings to give them, or revoked.
import { useEffect, useState } from 'preact/hooks';
import { api, type Bridge, type Me, type Template, type Waiting } from '../api';
import { Problem } from '../components';
import { useHousehold, type Household } from '../household';
import { ago } from '../time';
import { AddBridge } from './add_bridge';

type Report = { name?: string | null; model?: string | null; rssi?: number | null; readings?: Record<string, number>; error?: string | null };

function readingsOf(w: Waiting): string {
  const r = (w.report ?? {}) as Report;
  const values = Object.entries(r.readings ?? {}).map(([k, v]) => `${k} ${v}`);
  return values.length ? values.join(', ') : 'no readings';
}

/** The readings bridges and BTHome decode to, for a sensor not yet read. */
const READINGS = [
  'temperature', 'humidity', 'battery', 'pressure', 'illuminance', 'moisture', 'dewpoint', 'co2', 'tvoc',
  'pm25', 'pm10', 'voltage', 'current', 'power', 'energy', 'count', 'button', 'distance', 'rotation', 'uv_index',
  'volume', 'water', 'gas', 'mass', 'speed', 'duration', 'dimmer', 'motion', 'opening', 'door',
];

function AdoptForm({ w, h, templates, done }: { w: Waiting; h: Household; templates: Template[]; done: (text: string) => Promise<void> }) {
  const report = (w.report ?? {}) as Report;
  const places = h.orgs.filter((o) => h.may('manage_devices', o.id)).sort((a, b) => a.name.localeCompare(b.name));
  const [org, setOrg] = useState(places.some((o) => o.id === w.org) ? w.org : places[0]?.id ?? '');
  const [name, setName] = useState(report.name ?? '');
  const [template, setTemplate] = useState('');
  const [bindKey, setBindKey] = useState('');
  // reading -> "V<pin>", when the readings are known; else what each
  // datastream is to receive, pin -> reading (an encrypted sensor's
  // readings are known only once its bind key opens them).
  const [pins, setPins] = useState<Record<string, string>>({});
  const [readingOf, setReadingOf] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState('');
  const usable = templates.filter((t) => h.chain(org).includes(t.org)).sort((a, b) => a.name.localeCompare(b.name));
  const streams = usable.find((t) => t.id === template)?.definition.datastreams ?? [];
  const known = Object.keys(report.readings ?? {});
  const id = (f: string) => `adopt-${w.mac.replace(/:/g, '')}-${f}`;
  const chooseOrg = (next: string) => {
    setOrg(next);
    // A template of the other organization's chain may not be usable here.
    setTemplate('');
    setPins({});
    setReadingOf({});
  };
  const chooseTemplate = (next: string) => {
    setTemplate(next);
    setPins({});
    setReadingOf({});
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem('');
    try {
      const chosen = known.length
        ? Object.entries(pins)
        : Object.entries(readingOf).map(([pin, reading]) => [reading, pin] as const);
      const mapping = Object.fromEntries(chosen.filter(([reading, pin]) => reading && pin));
      if (Object.keys(mapping).length < chosen.filter(([reading, pin]) => reading && pin).length) {
        throw new Error('Each reading can go to one datastream only.');
      }
      await api.adopt(w.mac, {
        org, name: name.trim(), template: template || null, bind_key: bindKey.trim() || null,
        mapping: Object.keys(mapping).length ? mapping : null,
      });
      await done(`${name.trim()} adopted: its readings now go to the device.`);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <form onSubmit={submit} aria-label={`Adopt ${w.mac}`}>
      {places.length > 1 && (
        <div class="field">
          <label for={id('org')}>Organization</label>
          <select id={id('org')} value={org} onChange={(e) => chooseOrg((e.target as HTMLSelectElement).value)}>
            {places.map((o) => <option value={o.id}>{o.name}</option>)}
          </select>
        </div>
      )}
      <div class="field">
        <label for={id('name')}>Name</label>
        <input id={id('name')} required maxLength={200} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for={id('template')}>Kind of device</label>
        <select id={id('template')} value={template} onChange={(e) => chooseTemplate((e.target as HTMLSelectElement).value)}>
          <option value="">None</option>
          {usable.map((t) => <option value={t.id}>{t.name}</option>)}
        </select>
      </div>
      <div class="field">
        <label for={id('key')}>Bind key (encrypted sensors)</label>
        <input id={id('key')} value={bindKey} placeholder="32 hex digits" onInput={(e) => setBindKey((e.target as HTMLInputElement).value)} />
      </div>
      {streams.length > 0 && known.length === 0 && (
        <fieldset class="mapping">
          <legend>What each datastream receives</legend>
          <p>This sensor's readings are not known yet{report.error ? ' (it could not be read)' : ''}: choose the reading each datastream takes.</p>
          {streams.map((ds) => (
            <div class="field">
              <label for={id(`pin-${ds.pin}`)}>V{ds.pin} {ds.name}</label>
              <select id={id(`pin-${ds.pin}`)} value={readingOf[`V${ds.pin}`] ?? ''}
                onChange={(e) => setReadingOf({ ...readingOf, [`V${ds.pin}`]: (e.target as HTMLSelectElement).value })}>
                <option value="">The reading named {ds.name}, if any</option>
                {READINGS.map((r) => <option value={r}>{r}</option>)}
              </select>
            </div>
          ))}
        </fieldset>
      )}
      {streams.length > 0 && known.map((reading) => (
        <div class="field">
          <label for={id(`map-${reading}`)}>{reading} goes to</label>
          <select id={id(`map-${reading}`)} value={pins[reading] ?? ''}
            onChange={(e) => setPins({ ...pins, [reading]: (e.target as HTMLSelectElement).value })}>
            <option value="">The datastream named {reading}, if any</option>
            {streams.map((ds) => <option value={`V${ds.pin}`}>V{ds.pin} {ds.name}</option>)}
          </select>
        </div>
      ))}
      <div class="actions"><button type="submit">Adopt</button></div>
      <Problem text={problem} />
    </form>
  );
}

function InboxRow({ w, h, templates, done }: { w: Waiting; h: Household; templates: Template[]; done: (text: string) => Promise<void> }) {
  const report = (w.report ?? {}) as Report;
  const [problem, setProblem] = useState('');
  const dismiss = () =>
    api.dismiss(w.mac).then(() => done(`${w.mac} dismissed: it is not listed again.`), (e: Error) => setProblem(e.message));
  return (
    <li class="waiting" data-mac={w.mac}>
      <span class="who">{report.name ? `${report.name} · ` : ''}{w.mac}</span>
      <span class="readings">{readingsOf(w)}</span>
      {report.error && <span class="why">{report.error}</span>}
      <span class="when">heard {w.adverts} time{w.adverts === 1 ? '' : 's'} by {w.bridge}, last {ago(w.last_seen)}</span>
      <details>
        <summary>Adopt as a device</summary>
        <AdoptForm w={w} h={h} templates={templates} done={done} />
      </details>
      <button type="button" class="secondary small" onClick={dismiss}>Dismiss</button>
      <Problem text={problem} />
    </li>
  );
}

function BridgeRow({ b, h, done }: { b: Bridge; h: Household; done: (text: string) => Promise<void> }) {
  const [asking, setAsking] = useState(false);
  const [problem, setProblem] = useState('');
  const revoke = () =>
    api.revokeBridge(b.id).then(() => done(`${b.name} revoked: it can no longer log in.`), (e: Error) => setProblem(e.message))
      .finally(() => setAsking(false));
  return (
    <li class={`bridge ${b.revoked ? 'revoked' : ''}`} data-bridge={b.id}>
      <span class="who">{b.name}</span>
      <span class="where">{h.orgs.find((o) => o.id === b.org)?.name}</span>
      {b.revoked ? <span class="status offline">Revoked</span> : (
        <button type="button" class="secondary small" onClick={() => setAsking(true)}>Revoke</button>
      )}
      {asking && (
        <div class="confirm" role="alertdialog" aria-label={`Revoke ${b.name}?`}>
          <p>Its token stops at once and its open connection is closed; this cannot be undone.</p>
          <button type="button" class="danger" onClick={revoke}>Revoke {b.name}</button>
          <button type="button" class="secondary" onClick={() => setAsking(false)}>Keep it</button>
        </div>
      )}
      <Problem text={problem} />
    </li>
  );
}

export function Sensors({ me }: { me: Me }) {
  const { household: h, problem: householdProblem } = useHousehold(me);
  const [inbox, setInbox] = useState<Waiting[] | null>(null);
  const [bridges, setBridges] = useState<Bridge[]>([]);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [problem, setProblem] = useState('');
  const [said, setSaid] = useState('');
  const load = async () => {
    try {
      const [i, b, t] = await Promise.all([api.inbox(), api.bridges(), api.templates()]);
      setInbox(i);
      setBridges(b);
      setTemplates(t);
      setProblem('');
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const done = async (text: string) => {
    await load();
    setSaid(text);
  };
  const text = problem || householdProblem;
  if (!h || !inbox) {
    return <main class="page" aria-busy={!text}><h1>Bluetooth sensors</h1>{text ? <Problem text={text} /> : <p>Loading…</p>}</main>;
  }
  return (
    <main class="page">
      <h1>Bluetooth sensors</h1>
      {said && <p role="status">{said}</p>}
      {/* What was done stands; a list that could not be reloaded says so. */}
      {text && <Problem text={`The lists could not be reloaded: ${text}`} />}
      <section aria-labelledby="inbox">
        <h2 id="inbox">Heard, not yet adopted</h2>
        {inbox.length === 0 && <p>No unknown sensor heard. A bridge reports every sensor it hears; those no device claims wait here.</p>}
        <ul class="inbox" aria-label="Sensors waiting">
          {inbox.map((w) => <InboxRow key={w.mac} w={w} h={h} templates={templates} done={done} />)}
        </ul>
      </section>
      <section aria-labelledby="bridges">
        <h2 id="bridges">Bridges</h2>
        {bridges.length === 0 && <p>No bridge yet: add one for each Theengs Gateway or OpenMQTTGateway in the house.</p>}
        <ul class="bridges" aria-label="Bridges">
          {bridges.map((b) => <BridgeRow key={b.id} b={b} h={h} done={done} />)}
        </ul>
        <AddBridge h={h} added={load} />
      </section>
    </main>
  );
}
