// "Trust this hub": the hub's own certificate authority to download, the
// fingerprint to compare with what the hub itself shows (`hearth status`,
// the mDNS record), and the steps on each platform. Shown with or without
// a session: a person needs it before they log in over a warning.
import { useEffect, useState } from 'preact/hooks';
import { api, type Trust } from '../api';
import { Problem } from '../components';
import { ON_CLOUD, to } from '../router';

/** "AB12 CD34 …": a fingerprint in groups a person can compare aloud. */
function grouped(hex: string): string {
  return hex.toUpperCase().match(/.{1,4}/g)?.join(' ') ?? hex;
}

/** Does this browser already trust the page (a service worker only
 * registers over a certificate the browser accepts)? */
function useTrusted(): boolean | null {
  const [trusted, setTrusted] = useState<boolean | null>(null);
  useEffect(() => {
    if (!('serviceWorker' in navigator) || !window.isSecureContext) {
      setTrusted(false);
      return;
    }
    navigator.serviceWorker.register('/sw.js').then(() => setTrusted(true), () => setTrusted(false));
  }, []);
  return trusted;
}

export function TrustPage() {
  const [trust, setTrust] = useState<Trust | null>(null);
  const [problem, setProblem] = useState('');
  const trusted = useTrusted();
  useEffect(() => {
    if (!ON_CLOUD) api.trust().then(setTrust, (e: Error) => setProblem(e.message));
  }, []);
  if (ON_CLOUD) {
    return (
      <main class="page narrow trust">
        <p><a href={to('/')}>← Back to Hearth</a></p>
        <h1>Trust this hub</h1>
        <p>Away from home you reach your household through the cloud, whose certificate your browser checks like any
          website's. Trusting your hub's own certificate is done at home, on the hub's address.</p>
      </main>
    );
  }
  if (problem) return <main class="page narrow"><h1>Trust this hub</h1><Problem text={problem} /></main>;
  if (!trust) return <main class="page narrow" aria-busy="true"><h1>Trust this hub</h1><p>Loading…</p></main>;
  return (
    <main class="page narrow trust">
      <p><a href={to('/')}>← Back to Hearth</a></p>
      <h1>Trust this hub</h1>
      {trust.issuer === 'none' && (
        <p>This hub serves plain HTTP (its admin turned TLS off), so there is nothing to trust: the connection is
          not encrypted, and anyone on your network can read it.</p>
      )}
      {trust.issuer === 'configured' && (
        <p>This hub uses a certificate its admin installed. If your browser warns about it, ask them.
          Its fingerprint (SHA-256): <code class="fingerprint">{grouped(trust.fingerprint ?? '')}</code></p>
      )}
      {trust.issuer === 'hub_authority' && <Authority trust={trust} trusted={trusted} />}
    </main>
  );
}

function Authority({ trust, trusted }: { trust: Trust; trusted: boolean | null }) {
  const name = trust.names.find((n) => n.endsWith('.local')) ?? location.hostname;
  const address = `https://${name}${location.port ? ':' + location.port : ''}/`;
  return (
    <>
      {trusted ? (
        <p class="ok" role="status">This browser trusts the hub: the connection is encrypted and it is the hub.</p>
      ) : (
        <p>Your hub made its own certificate authority, <strong>{trust.authority_name}</strong>. Trust it once on
          each phone or computer, and the hub opens at <a href={address}>{address}</a> without a warning and
          works offline.</p>
      )}
      <h2>1. Download it</h2>
      <p class="actions">
        <a class="button" href={to('/api/v1/trust/ca.crt')} download>Download the certificate (.crt)</a>
        <a href={to('/api/v1/trust/ca.pem')} download>PEM (.pem) for Linux and firmware</a>
      </p>
      <h2>2. Compare the fingerprint</h2>
      <p>Before you trust it, check that this is your hub's: its SHA-256 fingerprint is</p>
      <p><code class="fingerprint" aria-label="Fingerprint">{grouped(trust.fingerprint ?? '')}</code></p>
      <p>It must match the <code>fingerprint</code> line of <code>hearth status</code>, run on the hub itself.
        If it does not, do not go on: something on your network is pretending to be the hub. (The <code>fp</code> of
        the hub's <code>_hearth._tcp</code> record is only a second look: whatever fakes the hub on your network
        could fake that too.)</p>
      <h2>3. Trust it</h2>
      <Steps />
      <p class="aside">It can vouch only for names ending in <code>.local</code>, <code>localhost</code> and
        addresses on home networks, never for a website on the internet. Its key stays on the hub and in the hub's
        backups: keep those private, as whoever holds that key could pass for other devices on your home network to
        the browsers that trust it. It vouches now for:
        {' '}{trust.names.join(', ')}{trust.not_after_ms ? ` (renewed by the hub before ${new Date(trust.not_after_ms).toLocaleDateString()})` : ''}.</p>
    </>
  );
}

function Steps() {
  return (
    <div class="platforms">
      <details>
        <summary>Android</summary>
        <ol>
          <li>Download the .crt above.</li>
          <li>Settings → Security &amp; privacy → More security settings → Encryption &amp; credentials → Install a
            certificate → <em>CA certificate</em> → Install anyway.</li>
          <li>Pick the downloaded file. Chrome trusts it from then on (some other apps do not use your own
            certificates).</li>
        </ol>
      </details>
      <details>
        <summary>iPhone and iPad</summary>
        <ol>
          <li>Open this page in Safari and download the .crt: it says “Profile Downloaded”.</li>
          <li>Settings → General → VPN &amp; Device Management → the Hearth hub CA profile → Install.</li>
          <li>Settings → General → About → Certificate Trust Settings → turn on full trust for it.</li>
        </ol>
      </details>
      <details>
        <summary>Mac</summary>
        <ol>
          <li>Download the .crt and open it: Keychain Access adds it (choose the login keychain).</li>
          <li>Double-click the Hearth hub CA certificate → Trust → “When using this certificate”: Always Trust.
            Close the window and confirm with your password. Safari and Chrome use it.</li>
        </ol>
      </details>
      <details>
        <summary>Windows</summary>
        <ol>
          <li>Download the .crt and open it → Install Certificate → Current User.</li>
          <li>“Place all certificates in the following store” → Browse → <em>Trusted Root Certification
            Authorities</em> → Finish, and confirm the warning. Edge and Chrome use it.</li>
          <li>Windows shows a SHA-1 thumbprint, not the fingerprint above; to compare, run
            <code> certutil -hashfile hearth-hub-ca-….crt SHA256</code>.</li>
        </ol>
      </details>
      <details>
        <summary>Linux: Chromium and Chrome</summary>
        <ol>
          <li>Settings → Privacy and security → Security → Manage certificates → Authorities (or “Installed by
            you”) → Import, pick the .crt, and tick “Trust this certificate for identifying websites”.</li>
          <li>Or in a terminal (package <code>libnss3-tools</code>):
            <code> certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "Hearth hub" -i hearth-hub-ca-….crt</code></li>
          <li>For the whole system (curl, other programs), Debian and Ubuntu:
            <code> sudo cp hearth-hub-ca-….pem /usr/local/share/ca-certificates/hearth-hub-ca.crt &amp;&amp; sudo
              update-ca-certificates</code></li>
        </ol>
      </details>
      <details>
        <summary>Firefox (every system)</summary>
        <ol>
          <li>Settings → Privacy &amp; Security → Certificates → View Certificates → Authorities → Import.</li>
          <li>Pick the .crt and tick “Trust this CA to identify websites”.</li>
        </ol>
      </details>
    </div>
  );
}
