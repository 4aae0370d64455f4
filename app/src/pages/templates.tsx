// Templates: what a kind of device has (datastreams and events), defined
// in an organization and usable there and below. A person who manages
// devices somewhere defines new ones there, edits and deletes them; the
// hub's validation and refusals ("devices still use this template: …")
// are shown as it says them. Others see what exists, read-only.
import { useEffect, useState } from 'preact/hooks';
import { api, type Me, type Template } from '../api';
import { Problem } from '../components';
import { useHousehold, type Household } from '../household';
import { DefinitionEditor, definitionOf, draftOf, type Draft } from './template_editor';

function TemplateCard(props: { t: Template; h: Household; changed: () => Promise<void>; deleted: (text: string) => void }) {
  const { t, h, changed, deleted } = props;
  const [draft, setDraft] = useState<Draft>(() => draftOf(t.definition));
  const [said, setSaid] = useState('');
  const [problem, setProblem] = useState('');
  const [asking, setAsking] = useState(false);
  const editable = h.may('manage_devices', t.org);
  const org = h.orgs.find((o) => o.id === t.org)?.name;
  const attempt = async (action: () => Promise<string>) => {
    setSaid('');
    setProblem('');
    try {
      const text = await action();
      await changed();
      setSaid(text);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  const save = (e: Event) => {
    e.preventDefault();
    void attempt(async () => {
      await api.editTemplate(t.id, definitionOf(draft));
      return `${t.name} saved.`;
    });
  };
  const streams = t.definition.datastreams ?? [];
  return (
    <details class="template" data-template={t.id}>
      <summary>
        <span class="name">{t.name}</span>
        <span class="where">{org}</span>
        <span class="count">{streams.length} datastream{streams.length === 1 ? '' : 's'}</span>
      </summary>
      {editable ? (
        <form onSubmit={save} aria-label={`Edit ${t.name}`}>
          <DefinitionEditor draft={draft} set={setDraft} />
          <div class="actions">
            <button type="submit">Save {t.name}</button>
            <button type="button" class="danger" onClick={() => setAsking(true)}>Delete template</button>
          </div>
          {asking && (
            <div class="confirm" role="alertdialog" aria-label={`Delete ${t.name}?`}>
              <p>Devices made from it must have been deleted first.</p>
              <button type="button" class="danger"
                onClick={() => {
                  setAsking(false);
                  void attempt(async () => {
                    await api.deleteTemplate(t.id);
                    await changed();
                    deleted(`${t.name} deleted.`);
                    return '';
                  });
                }}>
                Delete {t.name}
              </button>
              <button type="button" class="secondary" onClick={() => setAsking(false)}>Keep it</button>
            </div>
          )}
        </form>
      ) : (
        <ul class="readonly">
          {streams.map((ds) => <li>V{ds.pin} {ds.name} ({ds.type}{ds.unit ? `, ${ds.unit}` : ''})</li>)}
        </ul>
      )}
      {said && <p role="status">{said}</p>}
      <Problem text={problem} />
    </details>
  );
}

function NewTemplate({ h, changed }: { h: Household; changed: () => Promise<void> }) {
  const places = h.orgs.filter((o) => h.may('manage_devices', o.id)).sort((a, b) => a.name.localeCompare(b.name));
  const [name, setName] = useState('');
  const [org, setOrg] = useState('');
  const [draft, setDraft] = useState<Draft>({ streams: [], events: [] });
  const [said, setSaid] = useState('');
  const [problem, setProblem] = useState('');
  if (!places.length) return null;
  const where = org || (places.length === 1 ? places[0]!.id : '');
  const submit = async (e: Event) => {
    e.preventDefault();
    setSaid('');
    setProblem('');
    try {
      if (!where) throw new Error('Choose the organization the template is for.');
      await api.createTemplate(where, name.trim(), definitionOf(draft));
      await changed();
      setSaid(`${name.trim()} is ready: add a device with it.`);
      setName('');
      setDraft({ streams: [], events: [] });
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <details class="new-template">
      <summary>New template</summary>
      <form onSubmit={submit} aria-label="New template">
        <div class="field">
          <label for="template-name">Name</label>
          <input id="template-name" required maxLength={200} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </div>
        {places.length > 1 && (
          <div class="field">
            <label for="template-org">Organization</label>
            <select id="template-org" required value={org} onChange={(e) => setOrg((e.target as HTMLSelectElement).value)}>
              <option value="">Choose…</option>
              {places.map((o) => <option value={o.id}>{o.name}</option>)}
            </select>
          </div>
        )}
        <DefinitionEditor draft={draft} set={setDraft} />
        <div class="actions"><button type="submit">Create template</button></div>
        {said && <p role="status">{said}</p>}
        <Problem text={problem} />
      </form>
    </details>
  );
}

export function Templates({ me }: { me: Me }) {
  const { household, problem } = useHousehold(me);
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [failed, setFailed] = useState('');
  const [gone, setGone] = useState('');
  const load = () => api.templates().then(setTemplates, (e: Error) => setFailed(e.message));
  useEffect(() => {
    void load();
  }, []);
  return (
    <main class="page">
      <h1>Templates</h1>
      <p>A template says what a kind of device has: its datastreams (virtual pins) and the events it logs.</p>
      <Problem text={problem || failed} />
      {gone && <p role="status">{gone}</p>}
      {(!household || !templates) && !problem && !failed && <p aria-busy="true">Loading…</p>}
      {household && templates && (
        <>
          <NewTemplate h={household} changed={load} />
          {templates.length === 0 && <p>No templates yet.</p>}
          {[...templates].sort((a, b) => a.name.localeCompare(b.name)).map((t) => (
            <TemplateCard key={t.id} t={t} h={household} changed={load} deleted={setGone} />
          ))}
        </>
      )}
    </main>
  );
}
