// People and organizations: the household's tree as far as the person may
// see it (a sub-organization's member sees only theirs and below, never a
// parent's name), each organization with its members, and for whoever may
// manage organizations there: rename, add one below, delete (a refusal
// names what blocks it).
import { useState } from 'preact/hooks';
import { api, type Me, type Org } from '../api';
import { Problem } from '../components';
import { useHousehold, type Household } from '../household';
import { Members } from './members';

function OrgActions({ org, h }: { org: Org; h: Household }) {
  const [mode, setMode] = useState<'' | 'rename' | 'add' | 'delete'>('');
  const [name, setName] = useState('');
  const [problem, setProblem] = useState('');
  const run = async (e: Event | null, action: () => Promise<unknown>) => {
    e?.preventDefault();
    setProblem('');
    try {
      await action();
      setMode('');
      setName('');
      await h.reload();
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  const open = (m: typeof mode) => {
    setMode(m);
    setName(m === 'rename' ? org.name : '');
    setProblem('');
  };
  return (
    <div class="org-actions">
      <div class="actions">
        <button type="button" class="secondary" onClick={() => open('rename')}>Rename</button>
        <button type="button" class="secondary" onClick={() => open('add')}>Add an organization below</button>
        {org.parent && <button type="button" class="secondary" onClick={() => open('delete')}>Delete</button>}
      </div>
      {(mode === 'rename' || mode === 'add') && (
        <form
          aria-label={mode === 'rename' ? `Rename ${org.name}` : `New organization in ${org.name}`}
          onSubmit={(e) => run(e, () => (mode === 'rename' ? api.renameOrg(org.id, name.trim()) : api.createOrg(org.id, name.trim())))}
        >
          <div class="field">
            <label for={`org-name-${org.id}`}>{mode === 'rename' ? 'New name' : 'Name of the new organization'}</label>
            <input id={`org-name-${org.id}`} required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </div>
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setMode('')}>Cancel</button>
            <button type="submit">{mode === 'rename' ? 'Rename' : 'Create'}</button>
          </div>
        </form>
      )}
      {mode === 'delete' && (
        <div class="confirm" role="group" aria-label={`Delete ${org.name}`}>
          <p>Delete {org.name}? Only an organization without devices, members or organizations below it can go.</p>
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setMode('')}>Keep it</button>
            <button type="button" onClick={() => run(null, () => api.deleteOrg(org.id))}>Delete {org.name}</button>
          </div>
        </div>
      )}
      <Problem text={problem} />
    </div>
  );
}

function OrgSection({ org, h, depth }: { org: Org; h: Household; depth: number }) {
  const Heading = depth === 0 ? 'h2' : 'h3';
  return (
    <section class="org" data-org={org.id} aria-labelledby={`org-${org.id}`}>
      <Heading id={`org-${org.id}`}>{org.name}</Heading>
      {h.may('manage_orgs', org.id) && <OrgActions org={org} h={h} />}
      <Members org={org} h={h} />
      {h.children(org.id).map((child) => <OrgSection key={child.id} org={child} h={h} depth={depth + 1} />)}
    </section>
  );
}

export function People({ me }: { me: Me }) {
  const { household, problem } = useHousehold(me);
  if (!household) {
    return <main class="page" aria-busy={!problem}><h1>People</h1>{problem ? <Problem text={problem} /> : <p>Loading…</p>}</main>;
  }
  return (
    <main class="page">
      <h1>People</h1>
      <Problem text={problem} />
      {household.children(null).map((org) => <OrgSection key={org.id} org={org} h={household} depth={0} />)}
    </main>
  );
}
