// The first run: a hub without a household asks for its setup code, then
// the household's name, then its first admin, and lands logged in.
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Card, Field, Problem, useSubmit } from '../components';
import { to } from '../router';

export function Setup({ onDone }: { onDone: () => void }) {
  const [step, setStep] = useState(0);
  const [code, setCode] = useState('');
  const [household, setHousehold] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = useSubmit();

  const next = (e: Event) => {
    e.preventDefault();
    setProblem('');
    setStep(step + 1);
  };
  const finish = (e: Event) =>
    submit(
      e,
      async () => {
        if (password !== again) throw new Error('The two passwords differ.');
        await api.setup(code.trim(), household.trim(), email.trim(), password);
        onDone();
      },
      setProblem,
      setBusy,
    );

  return (
    <Card title="Set up your hub">
      <ol class="steps" aria-label="Setup steps">
        {['Setup code', 'Household', 'First admin'].map((name, i) => (
          <li aria-current={i === step ? 'step' : undefined}>{name}</li>
        ))}
      </ol>
      {step === 0 && (
        <form onSubmit={next}>
          <p>
            The setup code proves you are at the hub. <code>hearth setup-code</code> on the hub shows it (it is
            also in the hub's log when it starts).
          </p>
          <Field label="Setup code" name="code" value={code} onInput={setCode} autocomplete="one-time-code" />
          <button type="submit">Next</button>
        </form>
      )}
      {step === 1 && (
        <form onSubmit={next}>
          <Field label="Household name" name="household" value={household} onInput={setHousehold}
            hint="What your household calls itself, e.g. “The Millers”." />
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setStep(0)}>Back</button>
            <button type="submit">Next</button>
          </div>
        </form>
      )}
      {step === 2 && (
        <form onSubmit={finish}>
          <p>You will be the household's first admin.</p>
          <Field label="Email" name="email" type="email" value={email} onInput={setEmail} autocomplete="email" />
          <Field label="Password" name="password" type="password" value={password} onInput={setPassword}
            autocomplete="new-password" minLength={8} hint="At least 8 characters." />
          <Field label="Password again" name="again" type="password" value={again} onInput={setAgain}
            autocomplete="new-password" minLength={8} />
          <Problem text={problem} />
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setStep(1)}>Back</button>
            <button type="submit" disabled={busy}>{busy ? 'Setting up…' : 'Set up'}</button>
          </div>
        </form>
      )}
      <p class="aside">Did your browser warn about this page? <a href={to('/trust')}>Trust this hub</a> once, and it will not again.</p>
    </Card>
  );
}
