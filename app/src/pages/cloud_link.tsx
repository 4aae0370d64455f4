// Linking the household to the cloud, for use away from home: the cloud's
// address, the one-time code it gave, and (when its certificate is not one
// a browser already trusts) the fingerprint it showed. The hub answers
// with the cloud's API for this household, or says why not.
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Problem } from '../components';

export function CloudLink({ linked }: { linked: () => Promise<void> }) {
  const [url, setUrl] = useState('');
  const [code, setCode] = useState('');
  const [fingerprint, setFingerprint] = useState('');
  const [said, setSaid] = useState('');
  const [problem, setProblem] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setSaid('');
    setProblem('');
    try {
      const answer = await api.linkCloud(url.trim(), code.trim(), fingerprint.trim() || undefined);
      await linked();
      setSaid(`Linked to the cloud: ${answer.api}`);
      setCode('');
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <details class="cloud-link">
      <summary>Link to the cloud</summary>
      <form onSubmit={submit} aria-label="Link to the cloud">
        <div class="field">
          <label for="cloud-url">Cloud address</label>
          <input id="cloud-url" type="url" required placeholder="https://cloud.example.org" value={url}
            onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="cloud-code">Link code</label>
          <input id="cloud-code" required value={code} onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="cloud-fp">Its fingerprint (if it showed one)</label>
          <input id="cloud-fp" value={fingerprint} onInput={(e) => setFingerprint((e.target as HTMLInputElement).value)} />
        </div>
        <div class="actions"><button type="submit">Link</button></div>
        {said && <p role="status">{said}</p>}
        <Problem text={problem} />
      </form>
    </details>
  );
}
