// A device's sharing panel, for its owner and whoever manages devices
// where it is: who can see or control it and why (as far as the person may
// see: nobody from an organization above theirs), share it with someone
// for a while or for good, stop a share, transfer it to another person, or
// move it to another organization. The hub's answers are shown as it gives
// them: "already the owner", "invite them first", which organization.
// The device's settings (rename, new token, delete) are shown to the same
// people, below it.
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, type DeviceDetail, type Holder, type Me } from '../api';
import { Problem } from '../components';
import { useHousehold, type Household } from '../household';
import { SHARE_LENGTHS, reasonText } from '../words';
import { DeviceSettings } from './device_settings';

function HolderRow({ holder, onUnshare }: { holder: Holder; onUnshare: (share: string) => void }) {
  return (
    <li class="holder" data-user={holder.user}>
      <span class="who">{holder.email}</span>
      <span class={`level can-${holder.level ?? 'none'}`}>
        {holder.level === 'control' ? 'Can control' : holder.level === 'view' ? 'Can see' : 'No access'}
      </span>
      <ul class="reasons">
        {holder.reasons.map((r) => (
          <li>
            {reasonText(r)}
            {r.kind === 'share' && (
              <button type="button" class="secondary small" onClick={() => onUnshare(r.share)}>Stop sharing</button>
            )}
          </li>
        ))}
      </ul>
    </li>
  );
}

/** What a form's last attempt came to: the hub's refusal, or what happened. */
function useOutcome() {
  const [problem, setProblem] = useState('');
  const [said, setSaid] = useState('');
  const start = () => {
    setProblem('');
    setSaid('');
  };
  const shown = (
    <>
      {said && <p role="status">{said}</p>}
      <Problem text={problem} />
    </>
  );
  return { start, setProblem, setSaid, shown };
}

function ShareForm({ device, h, done }: { device: string; h: Household; done: () => Promise<void> }) {
  const people = [...new Set(h.members.map((m) => m.email).filter((e): e is string => !!e))].sort();
  const [who, setWho] = useState('');
  const [level, setLevel] = useState<'view' | 'control'>('view');
  const [length, setLength] = useState(0);
  const [date, setDate] = useState('');
  const outcome = useOutcome();
  const submit = async (e: Event) => {
    e.preventDefault();
    outcome.start();
    const choice = SHARE_LENGTHS[length] ?? SHARE_LENGTHS[0]!;
    const byDate = choice.secs === undefined && length > 0;
    try {
      if (byDate && !date) throw new Error('Choose the date and time the share ends.');
      await api.share(device, {
        with: who.trim(),
        level,
        ...(choice.secs ? { for_secs: choice.secs } : {}),
        ...(byDate ? { expires: new Date(date).getTime() } : {}),
      });
      setWho('');
      await done();
      outcome.setSaid(`Shared with ${who.trim()}.`);
    } catch (err) {
      outcome.setProblem((err as Error).message);
    }
  };
  return (
    <form onSubmit={submit} aria-label="Share this device">
      <div class="field">
        <label for="share-with">Share with</label>
        <input id="share-with" type="email" list="share-people" required value={who} onInput={(e) => setWho((e.target as HTMLInputElement).value)} />
        <datalist id="share-people">{people.map((p) => <option value={p} />)}</datalist>
      </div>
      <div class="field">
        <label for="share-level">They may</label>
        <select id="share-level" value={level} onChange={(e) => setLevel((e.target as HTMLSelectElement).value as 'view' | 'control')}>
          <option value="view">See it</option>
          <option value="control">See and control it</option>
        </select>
      </div>
      <div class="field">
        <label for="share-length">For how long</label>
        <select id="share-length" value={length} onChange={(e) => setLength(Number((e.target as HTMLSelectElement).value))}>
          {SHARE_LENGTHS.map((l, i) => <option value={i}>{l.label}</option>)}
        </select>
      </div>
      {length === SHARE_LENGTHS.length - 1 && (
        <div class="field">
          <label for="share-until">Ends</label>
          <input id="share-until" type="datetime-local" required value={date} onInput={(e) => setDate((e.target as HTMLInputElement).value)} />
        </div>
      )}
      <div class="actions"><button type="submit">Share</button></div>
      {outcome.shown}
    </form>
  );
}

function TransferForm({ detail, h, done }: { detail: DeviceDetail; h: Household; done: () => Promise<void> }) {
  const [to, setTo] = useState('');
  const [org, setOrg] = useState('');
  const outcome = useOutcome();
  // Where the recipient could own it: their organizations the person may see.
  const theirs = h.members
    .filter((m) => m.email && m.email === to.trim().toLowerCase())
    .map((m) => h.orgs.find((o) => o.id === m.org))
    .filter((o): o is NonNullable<typeof o> => !!o)
    .sort((a, b) => a.name.localeCompare(b.name));
  const submit = async (e: Event) => {
    e.preventDefault();
    outcome.start();
    try {
      const answer = await api.transfer(detail.id, to.trim(), org || undefined);
      setTo('');
      await done();
      outcome.setSaid('message' in answer ? answer.message : `${detail.name} now belongs to ${to.trim()}.`);
    } catch (err) {
      outcome.setProblem((err as Error).message);
    }
  };
  return (
    <form onSubmit={submit} aria-label="Transfer ownership">
      <div class="field">
        <label for="transfer-to">New owner</label>
        <input id="transfer-to" type="email" list="share-people" required value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
      </div>
      {theirs.length > 1 && (
        <div class="field">
          <label for="transfer-org">Into their organization</label>
          <select id="transfer-org" value={org} onChange={(e) => setOrg((e.target as HTMLSelectElement).value)}>
            <option value="">Choose…</option>
            {theirs.map((o) => <option value={o.id}>{o.name}</option>)}
          </select>
        </div>
      )}
      <div class="actions"><button type="submit">Transfer</button></div>
      {outcome.shown}
    </form>
  );
}

function MoveForm({ detail, h, done }: { detail: DeviceDetail; h: Household; done: () => Promise<void> }) {
  const targets = h.orgs.filter((o) => h.may('manage_devices', o.id)).sort((a, b) => a.name.localeCompare(b.name));
  const [org, setOrg] = useState('');
  const outcome = useOutcome();
  if (!targets.length) return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    outcome.start();
    try {
      await api.move(detail.id, org);
      await done();
      outcome.setSaid(`${detail.name} moved to ${targets.find((o) => o.id === org)?.name}.`);
    } catch (err) {
      outcome.setProblem((err as Error).message);
    }
  };
  return (
    <form onSubmit={submit} aria-label="Move to another organization">
      <div class="field">
        <label for="move-org">Organization</label>
        <select id="move-org" required value={org} onChange={(e) => setOrg((e.target as HTMLSelectElement).value)}>
          <option value="">Choose…</option>
          {targets.map((o) => <option value={o.id}>{o.name}</option>)}
        </select>
      </div>
      <div class="actions"><button type="submit">Move</button></div>
      {outcome.shown}
    </form>
  );
}

export function SharingPanel({ me, detail }: { me: Me; detail: DeviceDetail }) {
  const [holders, setHolders] = useState<Holder[] | null>(null);
  const [hidden, setHidden] = useState(false);
  const [problem, setProblem] = useState('');
  const [said, setSaid] = useState('');
  const { household } = useHousehold(me);
  const load = () =>
    api.access(detail.id).then(setHolders, (e) => {
      if (e instanceof ApiFailure && e.status === 403) setHidden(true);
      else setProblem((e as Error).message);
    });
  useEffect(() => {
    void load();
  }, [detail.id, detail.level]);
  if (hidden) return null;
  // What is said about a change comes after the list shows it.
  // It never throws: the change was made, and a form must not report a
  // reload that failed as the change failing.
  const changed = async (text = '') => {
    setProblem('');
    try {
      await Promise.all([load(), household?.reload()]);
    } catch (e) {
      setProblem(`Done, but the household could not be reloaded: ${(e as Error).message}`);
    }
    setSaid(text);
  };
  const unshare = (share: string) => api.unshare(share).then(() => changed('Share removed.'), (e: Error) => setProblem(e.message));
  return (
    <>
    <section class="sharing" aria-labelledby="sharing-title">
      <h2 id="sharing-title">Who can see and control it</h2>
      <Problem text={problem} />
      {said && <p role="status">{said}</p>}
      {holders && (
        <ul class="holders" aria-label="People with access">
          {holders.map((holder) => <HolderRow key={holder.user} holder={holder} onUnshare={unshare} />)}
        </ul>
      )}
      {household && (
        <>
          <details><summary>Share with someone</summary><ShareForm device={detail.id} h={household} done={changed} /></details>
          <details><summary>Transfer ownership</summary><TransferForm detail={detail} h={household} done={changed} /></details>
          <details><summary>Move to another organization</summary><MoveForm detail={detail} h={household} done={changed} /></details>
        </>
      )}
    </section>
    <DeviceSettings detail={detail} />
    </>
  );
}
