import { useState } from 'preact/hooks';
import { api } from '../api';
import { Card, Field, Problem, useSubmit } from '../components';
import { to } from '../router';

export function Login({ onDone }: { onDone: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = useSubmit();
  return (
    <Card title="Log in">
      <form
        onSubmit={(e) =>
          submit(e, async () => {
            await api.login(email.trim(), password);
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
      <p class="aside">Invited? Open the link you were sent. Forgot your password? Ask an admin of your household for a reset link.</p>
      <p class="aside">Did your browser warn about this page? <a href={to('/trust')}>Trust this hub</a> once, and it will not again.</p>
    </Card>
  );
}
