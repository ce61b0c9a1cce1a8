/**
 * The process side of slow-clients.ts: opens and holds misbehaving connections, reports when each closed.
 * Its own process, as an attacker would be: in the test's process its work would share the server's event loop.
 */
import { connect, type Socket } from 'node:net';
import type { ChildReply, ChildRequest, Shape, SlowSocket } from './slow-clients.js';

interface Held extends SlowSocket {
  socket: Socket;
}
const held: Held[] = [];

function open(port: number, from: string, shape: Shape, postHead: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    const s: Held = { socket, from, shape, openedAt: 0, closedAt: null, received: '' };
    held.push(s);
    let tick: NodeJS.Timeout | undefined;
    socket.on('error', () => undefined); // a dropped connection is reset: expected
    socket.on('data', (d: Buffer) => {
      if (s.received.length < 64) s.received += d.toString('latin1').slice(0, 64 - s.received.length);
    });
    socket.on('close', () => {
      clearInterval(tick);
      s.closedAt = Date.now();
      if (!s.openedAt) s.openedAt = s.closedAt;
      resolve();
    });
    socket.on('connect', () => {
      s.openedAt = Date.now();
      if (shape === 'partial-line') socket.write('GET /api/v1/incid');
      if (shape === 'trickle-headers') {
        socket.write('GET /api/v1/incidents HTTP/1.1\r\nHost: fido\r\n');
        tick = setInterval(() => socket.write('X-Slow: 1\r\n'), 250); // never idle, never done
      }
      if (shape === 'trickle-body') {
        socket.write(postHead);
        tick = setInterval(() => socket.write('a'), 250);
      }
      resolve();
    });
  });
}

process.on('message', (m: ChildRequest) => {
  void (async () => {
    let reply: ChildReply;
    if (m.cmd === 'open') {
      const first = held.length;
      const plan = m.groups.flatMap((g) => Array.from({ length: g.count }, () => g));
      for (let i = 0; i < plan.length; i += 200) {
        await Promise.all(plan.slice(i, i + 200).map((g) => open(m.port, g.from, g.shape, m.postHead ?? '')));
      }
      reply = { id: m.id, first, end: held.length };
    } else if (m.cmd === 'report') {
      reply = { id: m.id, sockets: held.map(({ socket: _s, ...rest }) => rest) };
    } else {
      for (const s of held) s.socket.destroy();
      reply = { id: m.id };
    }
    process.send!(reply);
  })();
});
process.on('disconnect', () => process.exit(0));
