import { useState } from 'preact/hooks';
import { api } from '../api';
import { Card, Field, Problem, useSubmit } from '../components';
import { ON_CLOUD, to } from '../router';

/** The login form; by default the household's, on the cloud its own
 * cross-household login with `title`, `logIn` and `aside` of its own. */
export function Login({ onDone, title = 'Log in', logIn = api.login, aside }: {
  onDone: () => void;
  title?: string;
  logIn?: (email: string, password: string) => Promise<unknown>;
  aside?: string;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = useSubmit();
  return (
    <Card title={title}>
      <form
        onSubmit={(e) =>
          submit(e, async () => {
            await logIn(email.trim(), password);
            onDone();
          }, setProblem, setBusy)
        }
      >
        <Field label="Email" name="email" type="email" value={email} onInput={setEmail} autocomplete="username" />
        <Field label="Password" name="password" type="password" value={password} onInput={setPassword}
          autocomplete="current-password" />
        <Problem text={problem} />
        <button type="submit" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
      {aside ? <p class="aside">{aside}</p> : (
        <>
          <p class="aside">Invited? Open the link you were sent. Forgot your password? Ask an admin of your household for a reset link.</p>
          {!ON_CLOUD && (
            <p class="aside">Did your browser warn about this page? <a href={to('/trust')}>Trust this hub</a> once, and it will not again.</p>
          )}
        </>
      )}
    </Card>
  );
}
