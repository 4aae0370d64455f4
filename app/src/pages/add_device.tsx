// Adding a device: a name, the organization it belongs to (among those
// where the person manages devices) and the template that says what it
// has (those of that organization and above). The hub answers with the
// device's auth token, shown once with how to connect it.
import { useEffect, useState } from 'preact/hooks';
import { api, type Me, type Template } from '../api';
import { Problem } from '../components';
import { useHousehold } from '../household';
import { TokenCard } from './connect';
import { to } from '../router';

type Added = { id: string; name: string; token: string; definition: Template['definition'] | undefined };

export function AddDevice({ me }: { me: Me }) {
  const { household } = useHousehold(me);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [name, setName] = useState('');
  const [org, setOrg] = useState('');
  const [template, setTemplate] = useState('');
  const [problem, setProblem] = useState('');
  const [templatesProblem, setTemplatesProblem] = useState('');
  const [added, setAdded] = useState<Added | null>(null);
  useEffect(() => {
    api.templates().then(setTemplates, (e: Error) => setTemplatesProblem(`The kinds of device could not be loaded: ${e.message}`));
  }, []);
  if (!household) return null;
  const places = household.orgs
    .filter((o) => household.may('manage_devices', o.id))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (!places.length) return null;
  const chosenOrg = org || (places.length === 1 ? places[0]!.id : '');
  const usable = chosenOrg
    ? templates.filter((t) => household.chain(chosenOrg).includes(t.org)).sort((a, b) => a.name.localeCompare(b.name))
    : [];

  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem('');
    try {
      if (!chosenOrg) throw new Error('Choose the organization the device belongs to.');
      const answer = await api.addDevice(chosenOrg, name.trim(), template || undefined);
      setAdded({ id: answer.id, name: name.trim(), token: answer.token, definition: templates.find((t) => t.id === template)?.definition });
      setName('');
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <details class="add-device">
      <summary>Add a device</summary>
      {added ? (
        <>
          <TokenCard device={added.id} name={added.name} token={added.token} definition={added.definition} />
          <p class="actions">
            <a href={to(`/devices/${encodeURIComponent(added.id)}`)}>Open {added.name}</a>
            <button type="button" class="secondary" onClick={() => setAdded(null)}>Add another</button>
          </p>
        </>
      ) : (
        <form onSubmit={submit} aria-label="Add a device">
          <div class="field">
            <label for="add-name">Name</label>
            <input id="add-name" required maxLength={200} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </div>
          {places.length > 1 && (
            <div class="field">
              <label for="add-org">Organization</label>
              <select id="add-org" required value={org} onChange={(e) => { setOrg((e.target as HTMLSelectElement).value); setTemplate(''); }}>
                <option value="">Choose…</option>
                {places.map((o) => <option value={o.id}>{o.name}</option>)}
              </select>
            </div>
          )}
          <div class="field">
            <label for="add-template">Kind of device</label>
            <select id="add-template" value={template} disabled={!chosenOrg}
              onChange={(e) => setTemplate((e.target as HTMLSelectElement).value)}>
              <option value="">None (no datastreams yet)</option>
              {usable.map((t) => <option value={t.id}>{t.name}</option>)}
            </select>
            <small>Its template: the datastreams and events it has. <a href={to('/templates')}>Templates</a></small>
            <Problem text={templatesProblem} />
          </div>
          <div class="actions"><button type="submit">Add</button></div>
          <Problem text={problem} />
        </form>
      )}
    </details>
  );
}
