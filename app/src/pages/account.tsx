// The person's own account: change password, see and end their sessions
// (this browser's marked: it ends by logging out), log out.
import { useEffect, useState } from 'preact/hooks';
import { api, type Me, type Session } from '../api';
import { Field, Problem, useSubmit } from '../components';
import { ON_CLOUD, to } from '../router';

export function Account({ me, onLogout }: { me: Me; onLogout: () => void }) {
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [problem, setProblem] = useState('');
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [changed, setChanged] = useState('');
  const [passwordProblem, setPasswordProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = useSubmit();

  const reload = () => api.sessions().then(setSessions, (e: Error) => setProblem(e.message));
  useEffect(() => {
    void reload();
  }, [me.id]);

  const end = async (id: string) => {
    setProblem('');
    try {
      await api.endSession(id);
      await reload();
    } catch (e) {
      setProblem((e as Error).message);
    }
  };

  return (
    <main class="page narrow">
      <h1>Your account</h1>
      <p>{me.email}</p>
      <ul class="memberships" aria-label="Your memberships">
        {me.memberships.map((m) => <li key={m.membership}>{m.role_name} in {m.org_name}</li>)}
      </ul>
      <h2>Change password</h2>
      <form
        onSubmit={(e) =>
          submit(e, async () => {
            setChanged('');
            await api.changePassword(current, password);
            setCurrent('');
            setPassword('');
            setChanged('Your password is changed.');
          }, setPasswordProblem, setBusy)
        }
      >
        <Field label="Current password" name="current" type="password" value={current} onInput={setCurrent}
          autocomplete="current-password" />
        <Field label="New password" name="new" type="password" value={password} onInput={setPassword}
          autocomplete="new-password" minLength={8} hint="At least 8 characters." />
        <Problem text={passwordProblem} />
        {changed && <p role="status">{changed}</p>}
        <button type="submit" disabled={busy}>Change password</button>
      </form>
      <h2>Sessions</h2>
      <Problem text={problem} />
      <ul class="sessions" aria-label="Your sessions">
        {(sessions ?? []).map((s) => (
          <li key={s.id} aria-current={s.current ? 'true' : undefined}>
            <span>{s.label}{s.current && <strong class="this"> · this browser</strong>}</span>
            <span class="when">since {new Date(s.created * 1000).toLocaleString()}</span>
            {!s.current && (
              <button type="button" class="secondary" onClick={() => end(s.id)} aria-label={`End ${s.label}`}>End</button>
            )}
          </li>
        ))}
      </ul>
      {!ON_CLOUD && (
        <>
          <h2>This hub</h2>
          <p><a href={to('/trust')}>Trust this hub</a> on your other phones and computers, and compare its fingerprint.</p>
        </>
      )}
      <button type="button" onClick={onLogout}>Log out</button>
    </main>
  );
}
