// Roles: for each organization the person may see, the roles defined there
// with their permissions as checkboxes, each saying in one line what it
// lets a person do. Whoever manages roles there may change, add and delete
// them; the built-in roles stay as they are, and a role someone holds is
// not deleted (the hub says who would lose it).
import { useState } from 'preact/hooks';
import { api, type Me, type Org, type Role } from '../api';
import { Problem } from '../components';
import { useHousehold, type Household } from '../household';
import { BUILT_IN_ROLES, PERMISSIONS, seesNothing } from '../words';

function Permissions({ id, chosen, editable, onToggle }: { id: string; chosen: string[]; editable: boolean; onToggle: (name: string) => void }) {
  return (
    <ul class="permissions">
      {PERMISSIONS.map((p) => (
        <li key={p.name}>
          <input id={`${id}-${p.name}`} type="checkbox" checked={chosen.includes(p.name)} disabled={!editable}
            aria-describedby={`${id}-${p.name}-does`} onChange={() => onToggle(p.name)} />
          <label for={`${id}-${p.name}`}>{p.label}</label>
          <small id={`${id}-${p.name}-does`}>{p.does}</small>
        </li>
      ))}
    </ul>
  );
}

const toggle = (list: string[], name: string) => (list.includes(name) ? list.filter((n) => n !== name) : [...list, name]);

function RoleCard({ role, h }: { role: Role; h: Household }) {
  const builtIn = BUILT_IN_ROLES.includes(role.id);
  const editable = !builtIn && h.may('manage_roles', role.org);
  const [draft, setDraft] = useState<string[]>(role.permissions);
  const [problem, setProblem] = useState('');
  const [saved, setSaved] = useState('');
  const changed = draft.slice().sort().join() !== role.permissions.slice().sort().join();
  const run = async (action: () => Promise<unknown>, done: string) => {
    setProblem('');
    setSaved('');
    try {
      await action();
      setSaved(done);
      await h.reload();
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  return (
    <li class="role-card" data-role={role.id}>
      <h3>{role.name}{builtIn && <span class="badge">Built in</span>}</h3>
      <Permissions id={`role-${role.id}`} chosen={draft} editable={editable} onToggle={(n) => setDraft(toggle(draft, n))} />
      {editable && seesNothing(draft) && <p class="notice" role="note">Someone with only this role sees no device.</p>}
      {editable && (
        <div class="actions">
          <button type="button" class="secondary" onClick={() => run(() => api.deleteRole(role.id), 'Deleted.')}>Delete</button>
          <button type="button" disabled={!changed} onClick={() => run(() => api.editRole(role.id, draft), 'Saved.')}>Save</button>
        </div>
      )}
      {saved && <p role="status">{saved}</p>}
      <Problem text={problem} />
    </li>
  );
}

function NewRole({ org, h }: { org: Org; h: Household }) {
  const [name, setName] = useState('');
  const [draft, setDraft] = useState<string[]>(['view_own_devices']);
  const [problem, setProblem] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem('');
    try {
      await api.createRole(org.id, name.trim(), draft);
      setName('');
      await h.reload();
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <details>
      <summary>New role in {org.name}</summary>
      <form onSubmit={submit} aria-label={`New role in ${org.name}`}>
        <div class="field">
          <label for={`new-role-${org.id}`}>Name</label>
          <input id={`new-role-${org.id}`} required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </div>
        <Permissions id={`new-role-${org.id}`} chosen={draft} editable onToggle={(n) => setDraft(toggle(draft, n))} />
        <div class="actions"><button type="submit">Create role</button></div>
        <Problem text={problem} />
      </form>
    </details>
  );
}

export function Roles({ me }: { me: Me }) {
  const { household: h, problem } = useHousehold(me);
  if (!h) return <main class="page" aria-busy={!problem}><h1>Roles</h1>{problem ? <Problem text={problem} /> : <p>Loading…</p>}</main>;
  const orgs = h.orgs.slice().sort((a, b) => h.chain(a.id).length - h.chain(b.id).length || a.name.localeCompare(b.name));
  return (
    <main class="page">
      <h1>Roles</h1>
      <p class="aside">A role given in an organization applies there and in every organization below it.</p>
      {orgs.map((org) => {
        const here = h.roles.filter((r) => r.org === org.id).sort((a, b) => a.name.localeCompare(b.name));
        if (!here.length && !h.may('manage_roles', org.id)) return null;
        return (
          <section key={org.id} aria-labelledby={`roles-${org.id}`}>
            <h2 id={`roles-${org.id}`}>{org.name}</h2>
            <ul class="roles">{here.map((r) => <RoleCard key={r.id} role={r} h={h} />)}</ul>
            {h.may('manage_roles', org.id) && <NewRole org={org} h={h} />}
          </section>
        );
      })}
    </main>
  );
}
