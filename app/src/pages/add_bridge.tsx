// Adding a BLE bridge: its name (the gateway publishes under
// home/<name>/BTtoMQTT/) and organization; the hub answers with its token,
// shown once with the command line for Theengs Gateway and the MQTT
// settings for OpenMQTTGateway.
import { useEffect, useState } from 'preact/hooks';
import { api, type Connect } from '../api';
import { Problem } from '../components';
import type { Household } from '../household';

type Added = { name: string; token: string };

type Mqtt = NonNullable<Connect['mqtt']>;

/** Theengs Gateway's command line: on Hearth's listener it logs in as
 * `bridge` with the token; on the household's broker, as the broker has
 * it (the hub trusts what the broker lets it publish under its name). */
function theengs(mqtt: Mqtt, a: Added): string {
  const topic = `home/${a.name}/BTtoMQTT`;
  const login = mqtt.kind === 'own' ? `-u bridge -p ${a.token}` : '-u <broker user> -p <broker password>';
  return `TheengsGateway -H ${mqtt.host} -P ${mqtt.port} ${login} -st ${topic}/undecoded -pt ${topic} -Lt home/${a.name}/LWT`;
}

function omg(mqtt: Mqtt, a: Added): string {
  const login = mqtt.kind === 'own'
    ? 'user bridge, the token as password'
    : "the user and password your broker has for it (the broker's ACL must let it publish only under its own name)";
  return `OpenMQTTGateway: MQTT host ${mqtt.host}, port ${mqtt.port}, ${login}, gateway name ${a.name}, base topic home/.`;
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
          {reach?.mqtt ? (
            <>
              {reach.mqtt.kind === 'broker' && (
                <p>This hub reads the household's broker: the bridge publishes there, and its token is kept for when the hub's own listener is used.</p>
              )}
              <figure class="snippet">
                <figcaption>Theengs Gateway</figcaption>
                <pre><code class="bridge-command">{theengs(reach.mqtt, made)}</code></pre>
              </figure>
              <p class="bridge-omg">{omg(reach.mqtt, made)}</p>
            </>
          ) : reach && (
            <p class="notice">MQTT is off on this hub, so no bridge can reach it: turn on its MQTT listener (mqtt.listen) or a household broker (mqtt.broker) in hearth.toml.</p>
          )}
        </div>
      )}
    </details>
  );
}
