// One organization's people: each member with their role (changeable by
// whoever manages people there), a pending invite with a new link or
// cancel, a new password link, removal that first says which devices would
// be left without an owner; and the invite form, which warns before
// inviting with a role that sees nothing and answers with the link and its
// QR code.
import { useState } from 'preact/hooks';
import { api, type Invited, type Member, type Org } from '../api';
import { Problem } from '../components';
import type { Household } from '../household';
import { LinkToShare } from '../qr';
import { seesNothing } from '../words';
import { to } from '../router';

function inviteLink(code: string): string {
  return `${location.origin}${to('/invite')}#code=${encodeURIComponent(code)}`;
}

/** Runs an action, then reloads the household; a refusal is shown. */
function useAction(h: Household) {
  const [problem, setProblem] = useState('');
  const run = async (action: () => Promise<unknown>) => {
    setProblem('');
    try {
      await action();
      await h.reload();
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  return { problem, run };
}

function MemberRow({ m, h, manage }: { m: Member; h: Household; manage: boolean }) {
  const { problem, run } = useAction(h);
  const [removing, setRemoving] = useState(false);
  const [link, setLink] = useState('');
  const roles = h.rolesFor(m.org);
  const email = m.email ?? 'someone';
  return (
    <li class="member" data-member={m.membership}>
      <span class="who">{email}{m.pending && <span class="badge">Invited, not joined yet</span>}</span>
      {manage ? (
        <label class="role">
          <span class="sr-only">Role of {email}</span>
          <select value={m.role} onChange={(e) => run(() => api.changeRole(m.membership, (e.target as HTMLSelectElement).value))}>
            {roles.map((r) => <option value={r.id}>{r.name}</option>)}
            {!roles.some((r) => r.id === m.role) && <option value={m.role}>{m.role_name ?? 'another role'}</option>}
          </select>
        </label>
      ) : (
        <span class="role">{m.role_name ?? 'a role'}</span>
      )}
      {manage && (
        <span class="member-actions">
          <button type="button" class="secondary" onClick={() => run(async () => setLink(inviteLink((await api.resetPassword(m.user)).reset_code)))}>
            {m.pending ? 'New invite link' : 'New password link'}
          </button>
          <button type="button" class="secondary" onClick={() => setRemoving(true)}>{m.pending ? 'Cancel invite' : 'Remove'}</button>
        </span>
      )}
      {removing && (
        <div class="confirm" role="group" aria-label={`Remove ${email}`}>
          <p>
            {m.owns.length
              ? `${email} owns ${m.owns.map((d) => d.name).join(', ')}: ${m.owns.length === 1 ? 'it' : 'they'} will have no owner until someone takes ${m.owns.length === 1 ? 'it' : 'them'} over.`
              : `${email} owns no device here.`}{' '}
            Their shares through this membership end too.
          </p>
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setRemoving(false)}>Keep</button>
            <button type="button" onClick={() => run(() => api.removeMember(m.membership))}>{m.pending ? 'Cancel the invite' : `Remove ${email}`}</button>
          </div>
        </div>
      )}
      {link && <LinkToShare url={link} what={m.pending ? 'invite link' : 'password link'} />}
      <Problem text={problem} />
    </li>
  );
}

function InviteForm({ org, h }: { org: Org; h: Household }) {
  const roles = h.rolesFor(org.id);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState(roles.find((r) => r.id === 'user')?.id ?? roles[0]?.id ?? '');
  const [answer, setAnswer] = useState<Invited | null>(null);
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const chosen = roles.find((r) => r.id === role);
  const blind = chosen ? seesNothing(chosen.permissions) : false;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem('');
    try {
      setAnswer(await api.invite(email.trim(), org.id, role));
      setEmail('');
      await h.reload();
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const id = `invite-${org.id}`;
  return (
    <div class="invite">
      <form onSubmit={submit} aria-label={`Invite someone into ${org.name}`}>
        <div class="field">
          <label for={`${id}-email`}>Email</label>
          <input id={`${id}-email`} type="email" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for={`${id}-role`}>Role</label>
          <select id={`${id}-role`} value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            {roles.map((r) => <option value={r.id}>{r.name}</option>)}
          </select>
        </div>
        {blind && (
          <p class="notice" role="note">With the role {chosen?.name} they will see no device until one is shared with them or given to them.</p>
        )}
        <div class="actions">
          <button type="submit" disabled={busy || !role}>{blind ? 'Invite anyway' : 'Invite'}</button>
        </div>
      </form>
      <Problem text={problem} />
      {answer && (
        <div class="invited" role="status">
          {answer.warning && <p class="notice">{answer.warning}</p>}
          {answer.invite_code ? (
            <>
              <p>Send them this link, or let them scan it. It works once; they choose their password with it.</p>
              <LinkToShare url={inviteLink(answer.invite_code)} what="invite link" />
            </>
          ) : (
            <p>They already have an account in this household: they log in as usual and find {org.name} with their other devices.</p>
          )}
        </div>
      )}
    </div>
  );
}

export function Members({ org, h }: { org: Org; h: Household }) {
  const manage = h.may('manage_users', org.id);
  const here = h.members.filter((m) => m.org === org.id).sort((a, b) => (a.email ?? '').localeCompare(b.email ?? ''));
  return (
    <>
      {here.length ? (
        <ul class="members" aria-label={`People in ${org.name}`}>
          {here.map((m) => <MemberRow key={m.membership} m={m} h={h} manage={manage} />)}
        </ul>
      ) : (
        <p class="aside">Nobody is a member of {org.name} itself.</p>
      )}
      {manage && (
        <details>
          <summary>Invite someone into {org.name}</summary>
          <InviteForm org={org} h={h} />
        </details>
      )}
    </>
  );
}
