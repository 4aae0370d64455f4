// The household as the person may see it, loaded once for the People,
// Roles and Activity pages and a device's sharing panel: organizations,
// members, roles, and what the person may manage where. It holds only what
// the hub answered for this person: nothing of an organization above theirs.
import { useEffect, useState } from 'preact/hooks';
import { api, type Me, type Member, type Org, type Role } from './api';

export type Household = {
  orgs: Org[];
  members: Member[];
  roles: Role[];
  /** `org` and its ancestors the person may see, nearest first. */
  chain: (org: string) => string[];
  /** Whether the person holds `permission` over `org` (there or above). */
  may: (permission: string, org: string) => boolean;
  /** Roles that can be given in `org`: defined there or above. */
  rolesFor: (org: string) => Role[];
  /** Organizations below `org` (children), by name. */
  children: (org: string | null) => Org[];
  reload: () => Promise<void>;
};

export function buildHousehold(me: Me, orgs: Org[], members: Member[], roles: Role[], reload: () => Promise<void>): Household {
  const byId = new Map(orgs.map((o) => [o.id, o]));
  const chain = (org: string) => {
    const out: string[] = [];
    for (let o = byId.get(org); o && !out.includes(o.id); o = o.parent ? byId.get(o.parent) : undefined) out.push(o.id);
    return out;
  };
  const mine = me.memberships;
  return {
    orgs,
    members,
    roles,
    chain,
    may: (permission, org) => {
      const up = chain(org);
      return mine.some((m) => up.includes(m.org) && m.permissions.includes(permission));
    },
    rolesFor: (org) => {
      const up = chain(org);
      return roles.filter((r) => up.includes(r.org)).sort((a, b) => a.name.localeCompare(b.name));
    },
    children: (org) =>
      orgs
        .filter((o) => (org === null ? !o.parent || !byId.has(o.parent) : o.parent === org))
        .sort((a, b) => a.name.localeCompare(b.name)),
    reload,
  };
}

/** Loads the household (again on `reload`); a failure is said in the hub's words. */
export function useHousehold(me: Me): { household: Household | null; problem: string } {
  const [household, setHousehold] = useState<Household | null>(null);
  const [problem, setProblem] = useState('');
  const load = async () => {
    try {
      // `me` again too: what the person may manage changes with their role.
      const [fresh, orgs, members, roles] = await Promise.all([api.me(), api.orgs(), api.members(), api.roles()]);
      setHousehold(buildHousehold(fresh, orgs, members, roles, load));
      setProblem('');
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, [me.id]);
  return { household, problem };
}
