// The app's routes are real paths (the hub answers each with the shell):
// a link or `navigate` changes the path without a reload, and the back
// button works. No router library: the History API is enough.
//
// Away from home the cloud serves a household's app under
// `/tenants/<tenant id>/`: that prefix is the app's base, taken once from
// the address it was opened at; the app's own paths never include it.
import { useEffect, useState } from 'preact/hooks';

export const BASE_PATH = /^\/tenants\/[A-Za-z0-9_-]{1,64}(?=\/|$)/.exec(location.pathname)?.[0] ?? '';

/** Whether this app is a household's, served by the cloud. */
export const ON_CLOUD = BASE_PATH !== '';

/** The address of the app's own path `path`. */
export function to(path: string): string {
  return BASE_PATH + path;
}

/** Whether the address `pathname` is this app's (under its base). */
function inApp(pathname: string): boolean {
  return pathname === BASE_PATH || pathname.startsWith(BASE_PATH + '/');
}

/** The app's own path of the address `pathname`. */
function within(pathname: string): string {
  return BASE_PATH && inApp(pathname) ? pathname.slice(BASE_PATH.length) || '/' : pathname;
}

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', to(path));
  else history.pushState(null, '', to(path));
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The current path, re-rendered when it changes. */
export function usePath(): string {
  const [path, setPath] = useState(within(location.pathname));
  useEffect(() => {
    const changed = () => setPath(within(location.pathname));
    addEventListener('popstate', changed);
    return () => removeEventListener('popstate', changed);
  }, []);
  return path;
}

/** A link that navigates inside the app (a plain link for any modified
 * click, a download, or a file of the API). */
export function onLinkClick(event: MouseEvent): void {
  const link = (event.target as Element | null)?.closest('a');
  if (!link || link.origin !== location.origin || link.target || link.hasAttribute('download') || event.button !== 0) return;
  // The hub's own files (a certificate to download) are not app pages.
  const path = within(link.pathname);
  if (path.startsWith('/api/') || !inApp(link.pathname)) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(path + link.search + link.hash);
}
