// An invite (or password-reset) link: /invite#code=… . The code stays in
// the fragment, so it never reaches a server log or a Referer.
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Card, Field, Problem, useSubmit } from '../components';

function codeFromLink(): string {
  return new URLSearchParams(location.hash.slice(1)).get('code') ?? '';
}

export function Invite({ onDone }: { onDone: () => void }) {
  const [code, setCode] = useState(codeFromLink());
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = useSubmit();
  const fromLink = codeFromLink() !== '';
  return (
    <Card title="Welcome to the household">
      <form
        onSubmit={(e) =>
          submit(e, async () => {
            if (password !== again) throw new Error('The two passwords differ.');
            await api.acceptInvite(code.trim(), password);
            history.replaceState(null, '', '/');
            onDone();
          }, setProblem, setBusy)
        }
      >
        {fromLink ? <p>Choose a password to finish joining.</p> : (
          <Field label="Invite code" name="code" value={code} onInput={setCode} autocomplete="one-time-code" />
        )}
        <Field label="Password" name="password" type="password" value={password} onInput={setPassword}
          autocomplete="new-password" minLength={8} hint="At least 8 characters." />
        <Field label="Password again" name="again" type="password" value={again} onInput={setAgain}
          autocomplete="new-password" minLength={8} />
        <Problem text={problem} />
        <button type="submit" disabled={busy}>{busy ? 'Joining…' : 'Join'}</button>
      </form>
    </Card>
  );
}
