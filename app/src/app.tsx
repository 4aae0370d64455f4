// Decides what the person sees: the setup wizard on a hub without a
// household, the invite page for an invite link, the login page without a
// session, and otherwise their devices or their account.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiFailure, api, type Health, type Me } from './api';
import { ON_CLOUD, navigate, onLinkClick, to, usePath } from './router';
import { CloudHome } from './pages/cloud_home';
import { Setup } from './pages/setup';
import { Login } from './pages/login';
import { Invite } from './pages/invite';
import { Devices } from './pages/devices';
import { DevicePage } from './pages/device';
import { Account } from './pages/account';
import { TrustPage } from './pages/trust';
import { People } from './pages/people';
import { Roles } from './pages/roles';
import { Activity } from './pages/activity';
import { Templates } from './pages/templates';
import { Hubs } from './pages/hubs';
import { Sensors } from './pages/sensors';
import { Problem } from './components';
import { Live, useLive } from './live';

type Start = { health: Health; me: Me | null } | { failed: string };

export function App() {
  const path = usePath();
  const [start, setStart] = useState<Start | null>(null);

  const load = async () => {
    try {
      // Both at once: a hub not set up answers /me 401 (no session), ignored.
      const [health, me] = await Promise.all([
        api.health(),
        api.me().catch((e) => {
          // (The cloud's own home, at `/`, has no household: 404.)
          if (e instanceof ApiFailure && (e.status === 401 || e.status === 404)) return null;
          throw e;
        }),
      ]);
      setStart({ health, me: health.set_up ? me : null });
    } catch (e) {
      setStart({ failed: e instanceof Error ? e.message : String(e) });
    }
  };
  useEffect(() => {
    void load();
  }, []);

  if (!start) return <main class="page" aria-busy="true"><p>Loading…</p></main>;
  if ('failed' in start) {
    return (
      <main class="page narrow">
        <Problem text={start.failed} />
        <button type="button" onClick={() => { setStart(null); void load(); }}>Try again</button>
      </main>
    );
  }

  const loggedIn = () => {
    void load().then(() => navigate('/', true));
  };
  const { health, me } = start;
  if (health.role === 'cloud') return <CloudHome />;
  if (path === '/trust') return <div onClick={onLinkClick}><TrustPage /></div>;
  if (!health.set_up) return <Setup onDone={loggedIn} />;
  if (path === '/invite') return <Invite onDone={loggedIn} />;
  if (!me) return <Login onDone={loggedIn} />;

  const logout = async () => {
    await api.logout().catch(() => undefined);
    setStart({ health, me: null });
    navigate('/', true);
  };
  return <Home me={me} path={path} onLogout={logout} onEnded={() => setStart({ health, me: null })} />;
}

/** Whether any of the person's roles holds `permission` (somewhere). */
function manages(me: Me, permission: string): boolean {
  return me.memberships.some((m) => m.permissions.includes(permission));
}

/** The logged-in app: the live stream runs while it is shown. */
function Home({ me, path, onLogout, onEnded }: { me: Me; path: string; onLogout: () => void; onEnded: () => void }) {
  const live = useMemo(() => new Live(), [me.id]);
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  const state = useLive(live);
  useEffect(() => {
    if (state.ended) onEnded();
  }, [state.ended]);
  return (
    <div class="shell" onClick={onLinkClick}>
      <header class="bar">
        <a class="brand" href={to('/')}>Hearth</a>
        <nav aria-label="Main">
          <a href={to('/')} aria-current={path === '/' ? 'page' : undefined}>Devices</a>
          <a href={to('/people')} aria-current={path === '/people' ? 'page' : undefined}>People</a>
          {manages(me, 'manage_roles') && <a href={to('/roles')} aria-current={path === '/roles' ? 'page' : undefined}>Roles</a>}
          {manages(me, 'manage_devices') && <a href={to('/templates')} aria-current={path === '/templates' ? 'page' : undefined}>Templates</a>}
          {!ON_CLOUD && manages(me, 'manage_devices') && <a href={to('/sensors')} aria-current={path === '/sensors' ? 'page' : undefined}>Sensors</a>}
          {!ON_CLOUD && me.hub_admin && <a href={to('/hubs')} aria-current={path === '/hubs' ? 'page' : undefined}>Hubs</a>}
          <a href={to('/activity')} aria-current={path === '/activity' ? 'page' : undefined}>Activity</a>
          <a href={to('/account')} aria-current={path === '/account' ? 'page' : undefined}>{me.email}</a>
        </nav>
      </header>
      {me.household_without_admin && <NoAdminLeft />}
      {ON_CLOUD && (
        <p class="banner away" role="note">
          Away from home, through the cloud. <a href="/">All your households</a>
        </p>
      )}
      {state.lost && (
        <p class="banner" role="status">Connection to the hub lost. Reconnecting… What you see may be out of date.</p>
      )}
      {path === '/account' ? (
        <Account me={me} onLogout={onLogout} />
      ) : path === '/people' ? (
        <People me={me} />
      ) : path === '/roles' ? (
        <Roles me={me} />
      ) : path === '/sensors' || path === '/hubs' ? (
        ON_CLOUD ? (
          <main class="page">
            <p class="notice" role="note">
              {path === '/hubs' ? 'Hubs and their links' : 'Bluetooth sensors waiting to be adopted'} are looked after on
              your hub at home: open the app there.
            </p>
          </main>
        ) : path === '/sensors' ? <Sensors me={me} /> : <Hubs me={me} />
      ) : path === '/templates' ? (
        <Templates me={me} />
      ) : path === '/activity' ? (
        <Activity me={me} live={state} />
      ) : path.startsWith('/devices/') ? (
        // Keyed by the device: another device's page starts afresh (a token
        // just issued, a name being edited, belong to the device they were for).
        <DevicePage key={path} me={me} id={decodeURIComponent(path.slice('/devices/'.length))} live={state} />
      ) : (
        <Devices me={me} live={state} />
      )}
    </div>
  );
}

/** A household nobody may administer any more, and how it gets an admin
 * again: through the hub's admin socket, which only its root may use. */
function NoAdminLeft() {
  return (
    <section class="banner recover" role="alert" aria-label="No administrator left">
      <p>
        This household has no administrator left, so nobody can invite people, change roles or look after its
        hubs. Someone who can log in to the hub at home makes a new one there:
      </p>
      <pre>{[
        'sudo hearth --console org list     # the top organization is listed first',
        'sudo hearth --console user list    # who is in it, with each membership',
        'sudo hearth --console user role <membership> admin                 # make a member of it admin',
        'sudo hearth --console user invite <email> <top organization> admin   # or invite someone new to it',
      ].join('\n')}</pre>
    </section>
  );
}
