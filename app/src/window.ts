// Windowing for long lists: only the rows on screen (and a few either
// side) are in the page; the list keeps its full height with padding, so
// the scroll bar and scroll position are those of the whole list. The page
// itself scrolls (no inner scroll box: a phone's own scrolling, find and
// zoom keep working). Rows must all be one height, which the first two
// rendered rows tell.
import type { RefObject } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';

/** Below this many rows everything is rendered (find-in-page sees it all). */
export const WINDOW_FROM = 150;
const OVERSCAN = 12;

export type Window = { start: number; end: number; before: number; after: number };

/** The rows of a `count`-long list in `list` that are to be rendered now. */
export function useWindow(count: number, list: RefObject<HTMLElement | null>): Window {
  const [rowHeight, setRowHeight] = useState(76);
  const [scroll, setScroll] = useState({ top: 0, height: 800 });
  const windowed = count >= WINDOW_FROM;

  useEffect(() => {
    if (!windowed) return;
    let frame = 0;
    const look = () => {
      frame = 0;
      const box = list.current?.getBoundingClientRect();
      if (box) setScroll({ top: -box.top, height: innerHeight });
    };
    const soon = () => {
      if (!frame) frame = requestAnimationFrame(look);
    };
    look();
    addEventListener('scroll', soon, { passive: true });
    addEventListener('resize', soon);
    return () => {
      cancelAnimationFrame(frame);
      removeEventListener('scroll', soon);
      removeEventListener('resize', soon);
    };
  }, [windowed, list]);

  // One row's height (its gap included), from what is rendered.
  useLayoutEffect(() => {
    const rows = list.current?.children;
    if (!windowed || !rows || rows.length < 2) return;
    // Fractional (a 5.9rem row is 102.4 px): rounded, the error would add up
    // row by row and leave the screen empty deep in a long list.
    const [first, second] = [rows[0], rows[1]];
    if (!first || !second) return;
    const measured = second.getBoundingClientRect().top - first.getBoundingClientRect().top;
    if (measured > 0 && Math.abs(measured - rowHeight) > 0.01) setRowHeight(measured);
  });

  if (!windowed) return { start: 0, end: count, before: 0, after: 0 };
  const first = Math.floor(Math.max(0, scroll.top) / rowHeight);
  const start = Math.max(0, Math.min(count, first - OVERSCAN));
  const end = Math.min(count, first + Math.ceil(scroll.height / rowHeight) + OVERSCAN);
  return { start, end, before: start * rowHeight, after: Math.max(0, count - end) * rowHeight };
}
