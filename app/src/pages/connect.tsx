// A device's auth token, shown once (the hub keeps only its hash), with
// what to put in the firmware or script to connect: Blynk firmware (plain
// and TLS, with the certificate to trust), MQTT settings and topics, and
// Blynk's device HTTP API, each ready to copy. The ports are the ones the
// hub is listening on; a transport that is off is said to be.
import { useEffect, useState } from 'preact/hooks';
import { api, type Connect, type Definition } from '../api';
import { Problem } from '../components';
import { ON_CLOUD, to } from '../router';

function Copyable({ label, text }: { label: string; text: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () =>
    navigator.clipboard?.writeText(text).then(() => setCopied(true), () => setCopied(false));
  return (
    <figure class="snippet">
      <figcaption>
        {label}
        <button type="button" class="secondary small" onClick={copy} aria-label={`${copied ? 'Copied' : 'Copy'}: ${label}`}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </figcaption>
      <pre><code>{text}</code></pre>
    </figure>
  );
}

/** The firmware line for the Blynk libraries (Arduino, ESP, Python, Node). */
export function blynkSketch(token: string, host: string, port: number): string {
  return [
    '#include <BlynkSimpleEsp32.h>  // or the header for your board',
    '',
    `char auth[] = "${token}";`,
    '',
    'void setup() {',
    `  Blynk.begin(auth, "your-wifi", "wifi-password", "${host}", ${port});`,
    '}',
    '',
    'void loop() {',
    '  Blynk.run();',
    '}',
  ].join('\n');
}

type Example = { pin: number; name: string; value: string };

/** A value the device's first datastream accepts, for the examples. */
function exampleOf(definition: Definition | undefined): Example {
  const ds = definition?.datastreams?.[0];
  if (!ds) return { pin: 1, name: 'Temperature', value: '21.5' };
  const value =
    ds.type === 'enum' ? ds.values[0] ?? '' : ds.type === 'string' ? 'hello' : String(ds.default ?? ds.min);
  return { pin: ds.pin, name: ds.name, value };
}

function mqttSettings(c: NonNullable<Connect['mqtt']>, device: string, token: string, ex: Example): string {
  const prefix = c.topic_prefix.replace('{device}', device);
  const lines = [
    `host      ${c.host}`,
    `port      ${c.port}`,
    `username  ${c.username.replace('{device}', device)}`,
    c.kind === 'own' ? `password  ${token}` : 'password  as your broker has it for this device',
    `publish   ${prefix}ds/<datastream name>   (a value, e.g. ${prefix}ds/${ex.name} ${ex.value})`,
    `subscribe ${prefix}downlink/#              (commands: ${prefix}downlink/ds/<name>)`,
  ];
  return lines.join('\n');
}

export function TokenCard(props: { device: string; name: string; token: string; definition?: Definition }) {
  const { device, name, token } = props;
  const ex = exampleOf(props.definition);
  const [reach, setReach] = useState<Connect | null>(null);
  const [problem, setProblem] = useState('');
  useEffect(() => {
    // Away from home there are no device listeners: devices connect to
    // their hub at home, which knows its own settings.
    if (!ON_CLOUD) api.connect().then(setReach, (e: Error) => setProblem(e.message));
  }, []);
  const origin = location.origin;
  // Over HTTPS curl checks the hub's certificate against its own authority.
  const pin = location.protocol === 'https:' ? '--cacert hearth-hub-ca.pem ' : '';
  return (
    <section class="token-card" aria-labelledby="token-title">
      <h2 id="token-title">Connect {name}</h2>
      <p class="notice" role="note">
        This token is shown only now: the hub keeps only a fingerprint of it. Copy it into the device before you leave
        this page; if it is lost, issue a new one.
      </p>
      <Copyable label="Auth token" text={token} />
      <Problem text={problem} />
      {ON_CLOUD && (
        <p class="notice" role="note">
          Devices connect to your hub at home, not to the cloud. Give the device this token, and open the app on the hub
          at home for the firmware, MQTT and HTTP settings to go with it.
        </p>
      )}
      {reach && (
        <>
          {reach.blynk.port !== null && reach.blynk.port !== undefined ? (
            <Copyable label={`Blynk firmware (plain TCP, port ${reach.blynk.port})`}
              text={blynkSketch(token, reach.host, reach.blynk.port)} />
          ) : (
            <p>Blynk's plain TCP port is off on this hub.</p>
          )}
          {reach.blynk.tls_port !== null && reach.blynk.tls_port !== undefined && (
            <p class="tls">
              With TLS: port <strong>{reach.blynk.tls_port}</strong>
              {reach.blynk.ca_url && (
                <>, trusting <a href={to(reach.blynk.ca_url)} download="hearth-device-ca.pem">the hub's device certificate</a> as the CA</>
              )}
              .
            </p>
          )}
          {reach.mqtt ? (
            <Copyable label={reach.mqtt.kind === 'own' ? "MQTT (the hub's own listener)" : "MQTT (the household's broker)"}
              text={mqttSettings(reach.mqtt, device, token, ex)} />
          ) : (
            <p>MQTT is off on this hub.</p>
          )}
          <Copyable label="Blynk HTTP API (scripts)"
            text={[
              `curl ${pin}'${origin}${reach.http_api}/update?token=${token}&V${ex.pin}=${encodeURIComponent(ex.value)}'`,
              `curl ${pin}'${origin}${reach.http_api}/get?token=${token}&V${ex.pin}'`,
            ].join('\n')} />
          {pin && (
            <p class="aside">
              Save <a href={to('/api/v1/trust/ca.pem')} download="hearth-hub-ca.pem">the hub's certificate authority</a> as
              hearth-hub-ca.pem next to the script, so curl checks it is talking to this hub.
            </p>
          )}
        </>
      )}
    </section>
  );
}
