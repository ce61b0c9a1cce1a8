/** A tiny router over history.pushState: the location as state, path patterns, and <Link>. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());
window.addEventListener('popstate', emit);

export interface Loc {
  path: string;
  search: string;
}
const here = (): Loc => ({ path: location.pathname, search: location.search });

/** Goes to `to` (path and query string); `replace` does not add a history entry (filters as they change). */
export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', to);
  if (!replace) window.scrollTo(0, 0);
  emit();
}

/** The current location; re-renders on navigation. */
export function useLocation(): Loc {
  const [loc, setLoc] = useState(here);
  useEffect(() => {
    const on = () => setLoc(here());
    listeners.add(on);
    on(); // a navigation between the first render and this effect
    return () => void listeners.delete(on);
  }, []);
  return loc;
}

/** `pattern`'s parameters (":id") in `path`, or null when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (const [i, want] of p.entries()) {
    const got = s[i]!;
    if (want.startsWith(':')) out[want.slice(1)] = decodeURIComponent(got);
    else if (want !== got) return null;
  }
  return out;
}

interface LinkProps {
  href: string;
  children?: ComponentChildren;
  class?: string;
  title?: string;
  tabIndex?: number;
  'aria-current'?: 'page' | undefined;
  onClick?: (e: MouseEvent) => void;
}

/** An <a> that navigates in the app (a modified or middle click still opens a new tab). */
export function Link({ href, children, onClick, ...rest }: LinkProps) {
  return (
    <a
      {...rest}
      href={href}
      onClick={(e) => {
        onClick?.(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
