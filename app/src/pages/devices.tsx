// Every device the person may see, across all their organizations and
// shares, in one list: no organization to switch. Each is labelled with
// its organization path as far as they may see it, and shows whether it is
// online, live from the hub's stream. A long list is windowed (only the
// rows on screen are in the page). Whoever manages devices adds one here.
import { Component } from 'preact';
import { useMemo, useRef, useState } from 'preact/hooks';
import type { Device, Me } from '../api';
import { AddDevice } from './add_device';
import type { LiveState, Telemetry } from '../live';
import { ago, lastSeen } from '../time';
import { useWindow } from '../window';
import { to } from '../router';

function where(device: Device): string {
  return device.org_path.length ? device.org_path.join(' › ') : 'Shared with you';
}

function Status({ t, offlineAt }: { t: Telemetry | undefined; offlineAt: number | undefined }) {
  if (!t) return <span class="status unknown">…</span>;
  if (t.online) return <span class="status online">Online</span>;
  const seen = lastSeen(t, offlineAt);
  return <span class="status offline">Offline{seen ? `, last seen ${ago(seen)}` : ''}</span>;
}

type RowProps = { d: Device; t: Telemetry | undefined; offlineAt: number | undefined; position: number; of: number };

/** One device's row: re-rendered only when that device changed (a value
 * of another of a thousand devices leaves it alone). */
class Row extends Component<RowProps> {
  shouldComponentUpdate(next: RowProps): boolean {
    const p = this.props;
    return next.d !== p.d || next.t !== p.t || next.offlineAt !== p.offlineAt || next.position !== p.position || next.of !== p.of;
  }

  render({ d, t, offlineAt, position, of }: RowProps) {
    return (
      <li class="device" data-device={d.id} aria-posinset={position} aria-setsize={of}>
        <a class="name" href={to(`/devices/${encodeURIComponent(d.id)}`)} title={d.name}>{d.name}</a>
        <Status t={t} offlineAt={offlineAt} />
        <span class="where" title={where(d)}>{where(d)}</span>
        <span class="rights">
          <span class={`level can-${d.level}`}>{d.level === 'control' ? 'You can control it' : 'You can view it'}</span>
          {d.owned && <span class="owned">Yours</span>}
        </span>
      </li>
    );
  }
}

type OnlineFilter = '' | 'online' | 'offline';

export function Devices({ me, live }: { me: Me; live: LiveState }) {
  const [query, setQuery] = useState('');
  const [org, setOrg] = useState('');
  const [online, setOnline] = useState<OnlineFilter>('');
  const [kind, setKind] = useState('');
  const devices = live.devices;

  const places = useMemo(() => [...new Set((devices ?? []).map(where))].sort(), [devices]);
  const kinds = useMemo(
    () => [...new Set((devices ?? []).flatMap((d) => (d.template ? [d.template.name] : [])))].sort(),
    [devices],
  );
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (devices ?? [])
      .filter((d) => !q || d.name.toLowerCase().includes(q))
      .filter((d) => !org || where(d) === org)
      .filter((d) => !online || (online === 'online') === Boolean(live.telemetry[d.id]?.online))
      .filter((d) => !kind || d.template?.name === kind)
      .sort((a, b) => a.name.localeCompare(b.name));
  }, [devices, query, org, online, kind, live.telemetry]);
  const list = useRef<HTMLUListElement>(null);
  const rows = useWindow(shown.length, list);

  return (
    <main class="page">
      <h1>Your devices</h1>
      <AddDevice me={me} />
      <div class="filters" role="search">
        <div class="field">
          <label for="device-search">Search</label>
          <input id="device-search" type="search" value={query} placeholder="Device name"
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="device-org">Organization</label>
          <select id="device-org" value={org} onChange={(e) => setOrg((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {places.map((p) => <option value={p}>{p}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="device-online">State</label>
          <select id="device-online" value={online}
            onChange={(e) => setOnline((e.target as HTMLSelectElement).value as OnlineFilter)}>
            <option value="">All</option>
            <option value="online">Online</option>
            <option value="offline">Offline</option>
          </select>
        </div>
        {kinds.length > 0 && (
          <div class="field">
            <label for="device-kind">Template</label>
            <select id="device-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
              <option value="">All</option>
              {kinds.map((k) => <option value={k}>{k}</option>)}
            </select>
          </div>
        )}
      </div>
      {devices === null && <p aria-busy="true">Loading your devices…</p>}
      {devices?.length === 0 && <p>No devices yet. When someone shares a device with you, or you add one, it shows here.</p>}
      {devices && devices.length > 0 && shown.length === 0 && <p>No device matches.</p>}
      <ul class="devices" aria-label={`Devices (${shown.length})`} ref={list} data-count={shown.length}
        style={{ paddingTop: `${rows.before}px`, paddingBottom: `${rows.after}px` }}>
        {shown.slice(rows.start, rows.end).map((d, i) => (
          <Row key={d.id} d={d} t={live.telemetry[d.id]} offlineAt={live.offlineSince[d.id]}
            position={rows.start + i + 1} of={shown.length} />
        ))}
      </ul>
    </main>
  );
}
