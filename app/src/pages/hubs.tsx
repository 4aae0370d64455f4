// Hubs and sync, for the household's admins: this hub (its name, id,
// fingerprint and addresses), its links to the household's other hubs and
// to the cloud (connected since when, or down since when and why, changes
// still to exchange, telemetry delivered, the outbox), the hubs connected
// to it, the household's hubs
// (pair a new one with a code, revoke one), linking to the cloud, and the
// changes that recently lost a conflict, as sentences.
import { useEffect, useState } from 'preact/hooks';
import { api, type Connect, type Device, type Health, type HubView, type Me, type PairingCode, type SyncStatus, type Trust } from '../api';
import { Problem } from '../components';
import { useHousehold } from '../household';
import { QrCode } from '../qr';
import { ago } from '../time';
import { auditText, invitedPeople, when, type Names } from '../words';
import { CloudLink } from './cloud_link';

type Facts = { health: Health; reach: Connect; trust: Trust; status: SyncStatus; hubs: HubView[]; devices: Device[] };

const peerName = (peer: string) => (peer === 'cloud' ? 'The cloud' : `Hub ${peer.replace(/^hub-/, '')}`);

function LinkRow({ link }: { link: SyncStatus['peers'][number] }) {
  const theirs = link.docs.reduce((n, d) => n + d.theirs_lacking, 0);
  const ours = link.docs.reduce((n, d) => n + d.ours_lacking, 0);
  const t = link.telemetry;
  return (
    <li class={`link ${link.connected ? 'up' : 'down'}`} data-peer={link.peer}>
      <span class="who">{peerName(link.peer)}</span>
      <span class="where">{link.url}</span>
      {link.connected ? (
        <span class="status online">Connected{link.connected_since ? ` since ${when(link.connected_since)}` : ''}</span>
      ) : (
        <span class="status offline">Not connected{link.down_since ? ` since ${when(link.down_since)}` : ''}</span>
      )}
      {!link.connected && link.last_error && <span class="why">Last problem: {link.last_error}</span>}
      {link.connected && (
        <span class="pending">
          {theirs === 0 && ours === 0 ? 'In step' : `${theirs} change${theirs === 1 ? '' : 's'} still to send, ${ours} to receive`}
        </span>
      )}
      {link.peer === 'cloud' && (
        <span class="telemetry">
          {t.delivered} value{t.delivered === 1 ? '' : 's'} delivered since this hub started
          {t.last_delivery ? `, the last ${ago(t.last_delivery)}` : ''}
          {t.last_error ? ` (last problem: ${t.last_error})` : ''}
        </span>
      )}
    </li>
  );
}

/** Peers that dialed this hub, once each, by their longest connection. */
function Incoming({ links }: { links: SyncStatus['incoming'] }) {
  const first = new Map<string, number>();
  for (const l of links) first.set(l.peer, Math.min(first.get(l.peer) ?? l.connected_since, l.connected_since));
  if (first.size === 0) return null;
  return (
    <ul class="links incoming" aria-label="Connected to this hub">
      {[...first].map(([peer, since]) => (
        <li key={peer} class="link up" data-peer={peer}>
          <span class="who">{peerName(peer)}</span>
          <span class="status online">Connected to this hub since {when(since)}</span>
        </li>
      ))}
    </ul>
  );
}

function HubRow({ hub, self, revoked }: { hub: HubView; self: boolean; revoked: () => Promise<void> }) {
  const [asking, setAsking] = useState(false);
  const [problem, setProblem] = useState('');
  const revoke = () =>
    api.revokeHub(hub.id).then(revoked, (e: Error) => setProblem(e.message)).finally(() => setAsking(false));
  return (
    <li class={`hub ${hub.revoked ? 'revoked' : ''}`} data-hub={hub.id}>
      <span class="who">{self ? `${hub.id} (this hub)` : hub.id}</span>
      <span class="where">{hub.fingerprint ? `fingerprint ${hub.fingerprint.slice(0, 16)}…` : 'no fingerprint announced'}</span>
      {hub.revoked && <span class="status offline">Revoked: no hub or cloud accepts it</span>}
      {!hub.revoked && !self && (
        <button type="button" class="secondary small" onClick={() => setAsking(true)}>Revoke</button>
      )}
      {asking && (
        <div class="confirm" role="alertdialog" aria-label={`Revoke hub ${hub.id}?`}>
          <p>No hub of the household nor the cloud accepts it again; to come back it must be paired anew.</p>
          <button type="button" class="danger" onClick={revoke}>Revoke hub {hub.id}</button>
          <button type="button" class="secondary" onClick={() => setAsking(false)}>Keep it</button>
        </div>
      )}
      <Problem text={problem} />
    </li>
  );
}

function Pairing({ fingerprint }: { fingerprint: string | null | undefined }) {
  const [code, setCode] = useState<PairingCode | null>(null);
  const [problem, setProblem] = useState('');
  const pair = () => api.pairHub().then(setCode, (e: Error) => setProblem(e.message));
  const command = code
    ? `hearth --console hub join ${location.origin} ${code.code}${fingerprint ? ` --fingerprint ${fingerprint}` : ''}`
    : '';
  return (
    <div class="pairing">
      <button type="button" onClick={pair}>{code ? 'Another pairing code' : 'Pair a new hub'}</button>
      <Problem text={problem} />
      {code && (
        <div class="handover" role="status">
          <p>On the new hub (not set up yet), run this within {code.valid_minutes} minutes; the code works once:</p>
          <pre><code class="join-command">{command}</code></pre>
          <QrCode text={command} label="The join command as a QR code" />
        </div>
      )}
    </div>
  );
}

export function Hubs({ me }: { me: Me }) {
  const { household } = useHousehold(me);
  const [facts, setFacts] = useState<Facts | null>(null);
  const [problem, setProblem] = useState('');
  const [said, setSaid] = useState('');
  const load = async () => {
    try {
      const [health, reach, trust, status, hubs, devices] = await Promise.all([
        api.health(), api.connect(), api.trust(), api.syncStatus(), api.hubs(), api.devices(),
      ]);
      setFacts({ health, reach, trust, status, hubs, devices });
      setProblem('');
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  if (problem) return <main class="page"><h1>Hubs and sync</h1><Problem text={problem} /></main>;
  if (!facts) return <main class="page" aria-busy="true"><h1>Hubs and sync</h1><p>Loading…</p></main>;
  const { health, reach, trust, status } = facts;
  // A household of one hub has no hub credentials yet: this hub is listed anyway.
  const hubs = facts.hubs.some((h) => h.id === health.hub_id)
    ? facts.hubs
    : [{ id: health.hub_id, revoked: false, fingerprint: trust.fingerprint }, ...facts.hubs];
  const names: Names = {
    people: new Map([...invitedPeople(status.conflicts_lost), [me.id, me.email], ...(household?.members ?? []).map((m) => [m.user, m.email ?? 'someone'] as [string, string])]),
    devices: new Map(facts.devices.map((d) => [d.id, d.name])),
    orgs: new Map((household?.orgs ?? []).map((o) => [o.id, o.name])),
  };
  const revoked = async () => {
    await load();
    setSaid('Hub revoked.');
  };
  return (
    <main class="page">
      <h1>Hubs and sync</h1>
      <section aria-labelledby="this-hub">
        <h2 id="this-hub">This hub</h2>
        <dl class="facts">
          <dt>Name</dt><dd class="hub-name">{reach.instance}</dd>
          <dt>On the LAN</dt><dd>{reach.mdns ? `announced as ${reach.host}` : 'not announced (mDNS is off in hearth.toml): devices and apps need its address'}</dd>
          <dt>Id</dt><dd class="hub-id">{health.hub_id}</dd>
          <dt>Version</dt><dd>{health.version}, running {Math.round(health.uptime_secs / 60)} min</dd>
          <dt>Fingerprint</dt><dd class="fingerprint">{trust.fingerprint ?? 'none: this hub serves plain HTTP'}</dd>
          <dt>Addresses</dt><dd>{trust.names.length ? trust.names.join(', ') : location.host}</dd>
        </dl>
      </section>
      <section aria-labelledby="links">
        <h2 id="links">Sync</h2>
        {status.peers.length === 0 && status.incoming.length === 0 && <p>This hub syncs with no other hub and no cloud yet.</p>}
        <ul class="links" aria-label="Links">{status.peers.map((l) => <LinkRow key={l.peer} link={l} />)}</ul>
        <Incoming links={status.incoming} />
        {status.outbox && (
          <p class="outbox">
            Values waiting for the cloud: {status.outbox.depth}
            {status.outbox.oldest ? `, the oldest from ${when(status.outbox.oldest)}` : ''}
            {status.outbox.dropped ? `; ${status.outbox.dropped} dropped when the queue was full` : ''}.
          </p>
        )}
        <CloudLink linked={load} />
      </section>
      <section aria-labelledby="hubs">
        <h2 id="hubs">The household's hubs</h2>
        {said && <p role="status">{said}</p>}
        <ul class="hubs" aria-label="Hubs">
          {hubs.map((h) => <HubRow key={h.id} hub={h} self={h.id === health.hub_id} revoked={revoked} />)}
        </ul>
        <Pairing fingerprint={trust.fingerprint} />
      </section>
      <section aria-labelledby="conflicts">
        <h2 id="conflicts">Changes that lost a conflict</h2>
        {status.conflicts_lost.length === 0 && <p>None recently: every change made on the hubs took effect.</p>}
        <ol class="activity">
          {status.conflicts_lost.map((e) => (
            <li key={e.op} class="entry"><span class="what">{auditText(e, status.conflicts_lost, names)}</span>
              <span class="when">{when(e.at)} · hub {e.replica}</span></li>
          ))}
        </ol>
      </section>
    </main>
  );
}
