// The app's routes are real paths (the hub answers each with the shell):
// a link or `navigate` changes the path without a reload, and the back
// button works. No router library: the History API is enough.
import { useEffect, useState } from 'preact/hooks';

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The current path, re-rendered when it changes. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const changed = () => setPath(location.pathname);
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
  if (link.pathname.startsWith('/api/')) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(link.pathname + link.search + link.hash);
}
