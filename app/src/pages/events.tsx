// A device's events, newest first, named as its template names them.
import { useEffect, useState } from 'preact/hooks';
import { api, type DeviceDetail, type StoredEvent } from '../api';
import { Problem } from '../components';

export function Events({ detail, newest }: { detail: DeviceDetail; newest: number }) {
  const [events, setEvents] = useState<StoredEvent[] | null>(null);
  const [problem, setProblem] = useState('');
  useEffect(() => {
    api.events(detail.id).then(setEvents, (e: Error) => setProblem(e.message));
  }, [detail.id, newest]);
  const names = new Map(detail.definition.events.map((e) => [e.code, e.name]));
  return (
    <section aria-label="Events">
      <h2>Events</h2>
      <Problem text={problem} />
      {events?.length === 0 && <p>No events yet.</p>}
      <ol class="timeline">
        {(events ?? []).map((e) => (
          <li key={e.id}>
            <time dateTime={new Date(e.at).toISOString()}>{new Date(e.at).toLocaleString()}</time>
            <span class="name">{names.get(e.code) ?? e.code}</span>
            {e.description && <span>{e.description}</span>}
            {e.cleared && <span class="when">cleared {new Date(e.cleared).toLocaleString()}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}
