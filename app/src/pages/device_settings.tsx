// A device's settings, for its owner and whoever manages devices where it
// is: rename it, make it another kind (its template), issue a new auth token (the old one stops at once, so
// the device must be given the new one) and delete it, each asked again
// before it happens and answered in the hub's words.
import { useEffect, useState } from 'preact/hooks';
import { api, type DeviceDetail, type Template } from '../api';
import { Problem } from '../components';
import { navigate } from '../router';
import { TokenCard } from './connect';

type Asking = '' | 'token' | 'delete';

export function DeviceSettings({ detail }: { detail: DeviceDetail }) {
  const [name, setName] = useState(detail.name);
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [template, setTemplate] = useState(detail.template?.id ?? '');
  useEffect(() => {
    api.templates().then(setTemplates, () => setTemplates([]));
  }, []);
  const [asking, setAsking] = useState<Asking>('');
  const [token, setToken] = useState('');
  const [said, setSaid] = useState('');
  const [problem, setProblem] = useState('');
  const attempt = async (action: () => Promise<void>) => {
    setProblem('');
    setSaid('');
    try {
      await action();
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setAsking('');
    }
  };
  const rename = (e: Event) => {
    e.preventDefault();
    void attempt(async () => {
      await api.renameDevice(detail.id, name.trim());
      setSaid(`Renamed to ${name.trim()}.`);
    });
  };
  const retype = (e: Event) => {
    e.preventDefault();
    void attempt(async () => {
      await api.setDeviceTemplate(detail.id, template || null);
      const chosen = templates?.find((t) => t.id === template);
      setSaid(chosen ? `${detail.name} is now a ${chosen.name}.` : `${detail.name} has no template now.`);
    });
  };
  const reissue = () =>
    attempt(async () => {
      setToken((await api.newToken(detail.id)).token);
    });
  const remove = () =>
    attempt(async () => {
      await api.deleteDevice(detail.id);
      navigate('/', true);
    });
  return (
    <section class="settings" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form onSubmit={rename} aria-label="Rename the device">
        <div class="field">
          <label for="device-name">Name</label>
          <input id="device-name" required maxLength={200} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </div>
        <div class="actions"><button type="submit" disabled={name.trim() === detail.name}>Rename</button></div>
      </form>
      {templates && (
        <form onSubmit={retype} aria-label="Change the device's template">
          <div class="field">
            <label for="device-template">Template</label>
            <select id="device-template" value={template} onChange={(e) => setTemplate((e.target as HTMLSelectElement).value)}>
              <option value="">None</option>
              {templates.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
            </select>
            <small>Its controls and what it may send follow the template from now on; what it recorded stays.</small>
          </div>
          <div class="actions">
            <button type="submit" disabled={template === (detail.template?.id ?? '')}>Change template</button>
          </div>
        </form>
      )}
      <div class="actions">
        <button type="button" class="secondary" onClick={() => setAsking('token')}>New auth token</button>
        <button type="button" class="danger" onClick={() => setAsking('delete')}>Delete device</button>
      </div>
      {asking === 'token' && (
        <div class="confirm" role="alertdialog" aria-label="Issue a new token?">
          <p>The device's current token stops working at once: it cannot connect until it is given the new one.</p>
          <button type="button" onClick={reissue}>Issue a new token</button>
          <button type="button" class="secondary" onClick={() => setAsking('')}>Keep the current one</button>
        </div>
      )}
      {asking === 'delete' && (
        <div class="confirm" role="alertdialog" aria-label={`Delete ${detail.name}?`}>
          <p>{detail.name} disappears for everyone who can see it, and its token stops working. This cannot be undone.</p>
          <button type="button" class="danger" onClick={remove}>Delete {detail.name}</button>
          <button type="button" class="secondary" onClick={() => setAsking('')}>Keep it</button>
        </div>
      )}
      {said && <p role="status">{said}</p>}
      <Problem text={problem} />
      {token && <TokenCard device={detail.id} name={detail.name} token={token} definition={detail.definition} />}
    </section>
  );
}
