// The household's activity (the audit log) as sentences, newest first:
// who did what to which device, and when two hubs disagreed, which change
// won and why one had no effect. Only what the person may see: an
// administrator above them is named as such. Filter by person, device or
// organization.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type AuditEntry, type Me } from '../api';
import { Problem } from '../components';
import { useHousehold } from '../household';
import type { LiveState } from '../live';
import { auditText, invitedPeople, when, type Names } from '../words';

/** The ids an entry is about (its actor, its subject, and those in its detail). */
function mentions(e: AuditEntry): string[] {
  const d = (e.detail ?? {}) as Record<string, unknown>;
  return [e.by, e.subject, ...Object.values(d).filter((v): v is string => typeof v === 'string')];
}

export function Activity({ me, live }: { me: Me; live: LiveState }) {
  const { household: h, problem: householdProblem } = useHousehold(me);
  const [log, setLog] = useState<AuditEntry[] | null>(null);
  const [problem, setProblem] = useState('');
  const [filter, setFilter] = useState('');
  useEffect(() => {
    api.audit().then((l) => setLog(l.slice().reverse()), (e: Error) => setProblem(e.message));
  }, [me.id]);
  const names: Names = useMemo(() => ({
    people: new Map([...invitedPeople(log ?? []), [me.id, me.email], ...(h?.members ?? []).map((m) => [m.user, m.email ?? 'someone'] as [string, string])]),
    devices: new Map((live.devices ?? []).map((d) => [d.id, d.name])),
    orgs: new Map((h?.orgs ?? []).map((o) => [o.id, o.name])),
  }), [h, live.devices, me, log]);
  if (!log || !h) {
    const text = problem || householdProblem;
    return <main class="page" aria-busy={!text}><h1>Activity</h1>{text ? <Problem text={text} /> : <p>Loading…</p>}</main>;
  }
  const shown = filter ? log.filter((e) => mentions(e).includes(filter)) : log;
  const choices = [
    ...[...names.people].map(([id, label]) => ({ id, label: `Person: ${label}` })),
    ...[...names.devices].map(([id, label]) => ({ id, label: `Device: ${label}` })),
    ...[...names.orgs].map(([id, label]) => ({ id, label: `Organization: ${label}` })),
  ];
  return (
    <main class="page">
      <h1>Activity</h1>
      <div class="filters">
        <div class="field">
          <label for="activity-filter">Show</label>
          <select id="activity-filter" value={filter} onChange={(e) => setFilter((e.target as HTMLSelectElement).value)}>
            <option value="">Everything</option>
            {choices.map((c) => <option value={c.id}>{c.label}</option>)}
          </select>
        </div>
      </div>
      {shown.length === 0 && <p>Nothing yet.</p>}
      <ol class="activity" aria-label="What happened, newest first">
        {shown.map((e) => (
          <li key={e.op} class={`entry outcome-${e.outcome}`} data-kind={e.kind}>
            <span class="what">{auditText(e, log, names)}</span>
            <span class="when">{when(e.at)} · hub {e.replica}</span>
          </li>
        ))}
      </ol>
    </main>
  );
}
