// What the household's rules are called and what they mean, in the words a
// family uses: permissions, why a person has a device, when a share ends,
// and the audit log's entries as sentences. Every page takes its words
// from here, so a permission is described the same way everywhere.
import type { AuditEntry, Reason } from './api';

/** Each permission a role can hold, with one line on what it lets a person do. */
export const PERMISSIONS: { name: string; label: string; does: string }[] = [
  { name: 'view_org_devices', label: 'See all devices', does: 'See every device of the organization and of those below it.' },
  { name: 'control_org_devices', label: 'Control all devices', does: 'Switch, set and command every device of the organization and of those below it.' },
  { name: 'view_own_devices', label: 'See own devices', does: 'See the devices they own (and those shared with them).' },
  { name: 'control_own_devices', label: 'Control own devices', does: 'Switch, set and command the devices they own.' },
  { name: 'manage_users', label: 'Manage people', does: 'Invite people, change their roles, remove them and give them a new password link.' },
  { name: 'manage_devices', label: 'Manage devices', does: 'Add, rename, delete, move, share and transfer devices.' },
  { name: 'manage_orgs', label: 'Manage organizations', does: 'Create, rename and delete organizations below this one.' },
  { name: 'manage_roles', label: 'Manage roles', does: 'Define, change and delete roles.' },
];

const SEES = ['view_org_devices', 'control_org_devices', 'view_own_devices', 'control_own_devices'];

/** A role with these permissions lets its holder see no device at all. */
export function seesNothing(permissions: readonly string[]): boolean {
  return !permissions.some((p) => SEES.includes(p));
}

/** The built-in roles every household starts with (their permissions are fixed). */
export const BUILT_IN_ROLES = ['admin', 'staff', 'user'];

export function when(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const LEVEL = { control: 'can control it', view: 'can see it' } as const;

/** Why a person has a device, in one line. */
export function reasonText(r: Reason): string {
  switch (r.kind) {
    case 'owner':
      return r.level
        ? `the owner (${r.role_name} in ${r.org_name}): ${LEVEL[r.level]}`
        : `the owner, but as ${r.role_name} in ${r.org_name} cannot use the devices they own`;
    case 'role':
      return `${r.role_name} in ${r.org_name}: ${LEVEL[r.level]}`;
    case 'share':
      return `shared with them: ${LEVEL[r.level]}${r.expires ? `, until ${when(r.expires)}` : ', until the share is removed'}`;
  }
}

/** How long a new share lasts: a duration by the hub's clock, or a date. */
export const SHARE_LENGTHS: { label: string; secs?: number }[] = [
  { label: 'Until I remove it' },
  { label: '1 hour', secs: 3600 },
  { label: '24 hours', secs: 86_400 },
  { label: '48 hours', secs: 172_800 },
  { label: 'A week', secs: 604_800 },
  { label: 'Until a date…' },
];

/** Names the reader may see, by id (people by email). */
export type Names = { people: Map<string, string>; devices: Map<string, string>; orgs: Map<string, string> };

const HIDDEN = 'an administrator of a parent organization';

function person(names: Names, id: unknown): string {
  if (typeof id !== 'string') return 'someone';
  if (id === 'console') return 'the hub console';
  if (id === HIDDEN) return HIDDEN;
  return names.people.get(id) ?? 'a former member';
}

function thing(map: Map<string, string>, id: unknown, fallback: string): string {
  return (typeof id === 'string' && map.get(id)) || fallback;
}

/** People the log itself names (by their invites), so that someone no
 * longer a member is still named where the reader saw them invited. */
export function invitedPeople(log: readonly AuditEntry[]): [string, string][] {
  return log.flatMap((e) => {
    const d = (e.detail ?? {}) as Record<string, unknown>;
    return e.kind === 'invite' && typeof d.user === 'string' && typeof d.email === 'string' ? [[d.user, d.email] as [string, string]] : [];
  });
}

/** One audit entry as a sentence, with its outcome. */
export function auditText(e: AuditEntry, all: AuditEntry[], names: Names): string {
  const d = (e.detail ?? {}) as Record<string, unknown>;
  const who = person(names, e.by);
  const device = thing(names.devices, typeof d.device === 'string' ? d.device : e.subject, 'a device');
  const org = thing(names.orgs, typeof d.org === 'string' ? d.org : e.subject, 'an organization');
  const what = (() => {
    switch (e.kind) {
      case 'found': return `${typeof d.name === 'string' ? d.name : 'The household'} was set up on this hub${typeof d.admin === 'string' ? `, with ${person(names, d.admin)} as its first administrator` : ''}`;
      case 'add_device': return `${who} added ${thing(names.devices, e.subject, 'a device')}`;
      case 'delete_device': return `${who} deleted ${typeof d.name === 'string' ? d.name : 'a device'}`;
      case 'rename_device': return `${who} renamed ${device} to ${String(d.name ?? '')}`;
      case 'set_device_template': return typeof d.template_name === 'string'
        ? `${who} made ${device} a ${d.template_name}`
        : `${who} made ${device} a device without a template`;
      case 'share': return `${who} shared ${device} with ${person(names, d.user)} (${d.level === 'control' ? 'control' : 'view'}${typeof d.expires === 'number' ? `, until ${when(d.expires)}` : ''})`;
      case 'unshare': return `${who} stopped sharing ${device} with ${person(names, d.user)}`;
      case 'transfer': return `${who} transferred ${device} to ${person(names, d.to)}`;
      case 'move_device': return `${who} moved ${device} to ${thing(names.orgs, d.to, 'another organization')}`;
      case 'invite': return `${who} invited ${String(d.email ?? 'someone')} into ${org}`;
      case 'remove_member': return `${who} removed ${person(names, d.user)} from ${org}`;
      case 'change_role': return `${who} changed the role of ${person(names, d.user)}`;
      case 'create_org': return `${who} created ${String(d.name ?? 'an organization')}`;
      case 'rename_org': return `${who} renamed an organization to ${String(d.name ?? '')}`;
      case 'delete_org': return `${who} deleted ${org}`;
      case 'create_role': return `${who} defined the role ${String(d.name ?? '')}`;
      case 'edit_role': return `${who} changed a role's permissions`;
      case 'delete_role': return `${who} deleted a role`;
      case 'create_template': return `${who} made the template ${String(d.name ?? '')}`;
      case 'edit_template': return `${who} changed a template`;
      case 'delete_template': return `${who} deleted a template`;
      case 'set_ble_mac': return `${who} tied ${device} to a Bluetooth sensor`;
      case 'change_email': return `${who} changed ${e.subject === e.by ? 'their' : `${person(names, e.subject)}'s`} email address`;
      default: return `${who}: ${e.kind.replace(/_/g, ' ')}`;
    }
  })();
  switch (e.outcome) {
    case 'effective': return `${what}.`;
    case 'lost_to': {
      const winner = all.find((x) => x.op === e.to);
      const them = winner ? auditText({ ...winner, outcome: 'effective' }, all, names).replace(/\.$/, '') : 'another change';
      return `${what} — lost to this, made at the same time: ${them}${winner ? ` (on hub ${winner.replica})` : ''}.`;
    }
    case 'superseded_by': return `${what} — later changed again.`;
    case 'inert': return `${what} — had no effect: ${e.reason}.`;
    case 'merged': return `${what} — merged with a change made at the same time: ${e.reason}.`;
  }
}
