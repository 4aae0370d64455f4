// Adding a BLE bridge: its name (the gateway publishes under
// home/<name>/BTtoMQTT/) and organization; the hub answers with its token,
// shown once with the command line for Theengs Gateway and the MQTT
// settings for OpenMQTTGateway.
import { useEffect, useState } from 'preact/hooks';
import { api, type Connect } from '../api';
import { Problem } from '../components';
import type { Household } from '../household';

type Added = { name: string; token: string };

function theengs(reach: Connect, a: Added): string {
  const port = reach.mqtt?.port ?? 1883;
  const topic = `home/${a.name}/BTtoMQTT`;
  return `TheengsGateway -H ${reach.host} -P ${port} -u bridge -p ${a.token} -st ${topic}/undecoded -pt ${topic} -Lt home/${a.name}/LWT`;
}

export function AddBridge({ h, added }: { h: Household; added: () => Promise<void> }) {
  const places = h.orgs.filter((o) => h.may('manage_devices', o.id)).sort((a, b) => a.name.localeCompare(b.name));
  const [name, setName] = useState('');
  const [org, setOrg] = useState('');
  const [made, setMade] = useState<Added | null>(null);
  const [reach, setReach] = useState<Connect | null>(null);
  const [problem, setProblem] = useState('');
  useEffect(() => {
    api.connect().then(setReach, () => setReach(null));
  }, []);
  if (!places.length) return null;
  const where = org || (places.length === 1 ? places[0]!.id : '');
  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem('');
    try {
      if (!where) throw new Error('Choose the organization the bridge serves.');
      const answer = await api.addBridge(where, name.trim());
      await added();
      setMade({ name: name.trim(), token: answer.token });
      setName('');
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <details class="add-bridge">
      <summary>Add a bridge</summary>
      <form onSubmit={submit} aria-label="Add a bridge">
        <div class="field">
          <label for="bridge-name">Gateway name</label>
          <input id="bridge-name" required maxLength={200} value={name} aria-describedby="bridge-name-hint"
            onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <small id="bridge-name-hint">The name the gateway publishes under (home/&lt;name&gt;/BTtoMQTT/…).</small>
        </div>
        {places.length > 1 && (
          <div class="field">
            <label for="bridge-org">Organization</label>
            <select id="bridge-org" required value={org} onChange={(e) => setOrg((e.target as HTMLSelectElement).value)}>
              <option value="">Choose…</option>
              {places.map((o) => <option value={o.id}>{o.name}</option>)}
            </select>
          </div>
        )}
        <div class="actions"><button type="submit">Add</button></div>
        <Problem text={problem} />
      </form>
      {made && (
        <div class="token-card" role="status">
          <p class="notice">The bridge's token is shown only now: the hub keeps only a fingerprint of it.</p>
          <figure class="snippet">
            <figcaption>Token of {made.name}</figcaption>
            <pre><code class="bridge-token">{made.token}</code></pre>
          </figure>
          {reach && (
            <figure class="snippet">
              <figcaption>Theengs Gateway</figcaption>
              <pre><code class="bridge-command">{theengs(reach, made)}</code></pre>
            </figure>
          )}
          {reach?.mqtt && (
            <p>OpenMQTTGateway: MQTT host {reach.mqtt.host}, port {reach.mqtt.port}, user bridge, the token as password, gateway name {made.name}.</p>
          )}
        </div>
      )}
    </details>
  );
}
