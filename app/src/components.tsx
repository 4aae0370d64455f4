// Small pieces every page uses.
import type { ComponentChildren } from 'preact';

/** A refusal or failure, said in the hub's words and announced. */
export function Problem({ text }: { text: string | null }) {
  if (!text) return null;
  return <p class="problem" role="alert">{text}</p>;
}

export function Field(props: {
  label: string;
  name: string;
  type?: 'text' | 'email' | 'password';
  value: string;
  onInput: (value: string) => void;
  autocomplete?: string;
  hint?: string;
  required?: boolean;
  minLength?: number;
}) {
  const id = `field-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        required={props.required ?? true}
        minLength={props.minLength}
        autocomplete={props.autocomplete}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
      {props.hint && <small id={`${id}-hint`}>{props.hint}</small>}
    </div>
  );
}

export function Card({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <main class="page narrow">
      <h1>{title}</h1>
      {children}
    </main>
  );
}

/** Runs `action` on submit, with the button busy and any refusal shown. */
export function useSubmit() {
  return async (event: Event, action: () => Promise<void>, fail: (text: string) => void, busy: (b: boolean) => void) => {
    event.preventDefault();
    busy(true);
    fail('');
    try {
      await action();
    } catch (e) {
      fail(e instanceof Error ? e.message : String(e));
    } finally {
      busy(false);
    }
  };
}
