// The app away from home, at the cloud's `/`: one login across every
// household the person has an account in, then their households and all
// their devices together, each saying which household it is in and whether
// it can be reached now (its hub connected to the cloud). A device opens in
// its household's app, `/tenants/<tenant>/devices/<id>`.
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, cloud, type CloudDevice, type CloudHousehold } from '../api';
import { Problem } from '../components';
import { Login } from './login';

type Seen = { households: CloudHousehold[]; devices: CloudDevice[] | null; problem: string };

export function CloudHome() {
  const [seen, setSeen] = useState<Seen | null | 'out'>(null);
  const load = async () => {
    try {
      const { households } = await cloud.me();
      setSeen({ households, devices: null, problem: '' });
      try {
        setSeen({ households, devices: await cloud.devices(), problem: '' });
      } catch (e) {
        setSeen({ households, devices: [], problem: `Your devices could not be listed: ${(e as Error).message}` });
      }
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 401) setSeen('out');
      else setSeen({ households: [], devices: [], problem: (e as Error).message });
    }
  };
  useEffect(() => {
    void load();
  }, []);

  if (seen === null) return <main class="page" aria-busy="true"><p>Loading…</p></main>;
  if (seen === 'out') {
    return (
      <Login title="Log in to Hearth away from home" logIn={cloud.login} onDone={() => void load()}
        aside="One login for every household you belong to whose hub is linked to this cloud." />
    );
  }
  const logout = async () => {
    try {
      await cloud.logout();
      setSeen('out');
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 401) setSeen('out');
      else setSeen({ ...seen, problem: `Not logged out everywhere: ${(e as Error).message}` });
    }
  };
  const labels = householdLabels(seen.households);
  return (
    <div class="shell">
      <header class="bar">
        <a class="brand" href="/">Hearth</a>
        <nav aria-label="Main">
          <button type="button" onClick={() => void logout()}>Log out</button>
        </nav>
      </header>
      <main class="page">
        <h1>Your households</h1>
        <Problem text={seen.problem} />
        <ul class="households">
          {seen.households.map((h) => (
            <li key={h.tenant}>
              <a href={h.app} title={labels.get(h.tenant)?.why}>{labels.get(h.tenant)?.list}</a> <small>as {h.email}</small>
            </li>
          ))}
        </ul>
        <h2>Your devices</h2>
        {seen.devices === null && <p aria-busy="true">Loading your devices…</p>}
        {seen.devices?.length === 0 && !seen.problem && <p>No devices yet in any of your households.</p>}
        {seen.devices && seen.devices.length > 0 && (
          <ul class="devices" aria-label={`Devices (${seen.devices.length})`}>
            {seen.devices.map((d) => <CloudRow key={`${d.tenant}/${d.id}`} d={d} label={labels.get(d.tenant)} />)}
          </ul>
        )}
      </main>
    </div>
  );
}

/** A household as the list of households names it (beside "as EMAIL"),
 * and as a device row does. */
type Label = { list: string; row: string; why?: string };

/** What each household is called on this page: its organizations' names,
 * and where two households would read the same, what tells them apart: the
 * email the person has there, else the shortest start of their ids at this
 * cloud that differs. */
export function householdLabels(households: CloudHousehold[]): Map<string, Label> {
  const base = (h: CloudHousehold) => h.household || 'Your household';
  return new Map(households.map((h) => {
    const same = households.filter((o) => base(o) === base(h));
    if (same.length === 1) return [h.tenant, { list: base(h), row: base(h) }];
    const twins = same.filter((o) => o.email === h.email);
    if (twins.length === 1) {
      return [h.tenant, { list: base(h), row: `${base(h)} (${h.email})`, why: `${same.length} of your households are called ${base(h)}` }];
    }
    let n = 6;
    while (n < h.tenant.length && twins.some((o) => o !== h && o.tenant.slice(0, n) === h.tenant.slice(0, n))) n++;
    const text = `${base(h)} · ${h.tenant.slice(0, n)}`;
    return [h.tenant, { list: text, row: text, why: `${same.length} of your households are called ${base(h)}; ${h.tenant.slice(0, n)} is the start of this one's id` }];
  }));
}

function CloudRow({ d, label }: { d: CloudDevice; label?: Label }) {
  return (
    <li class="device away">
      <a class="name" href={`/tenants/${encodeURIComponent(d.tenant)}/devices/${encodeURIComponent(d.id)}`} title={d.name}>{d.name}</a>
      <span class={`status ${d.online ? 'online' : 'offline'}`} title={d.online ? undefined : 'Not reachable now: its hub is not connected to the cloud'}>
        {d.online ? 'Online' : 'Not reachable now (its hub is not connected)'}
      </span>
      <small class="where" title={label?.why}>in {label?.row ?? 'your household'}</small>
    </li>
  );
}
