package dev.netstack.bridge;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Iterator;

/**
 * A {@link PortForward} in operation: the bound host socket and the host clients it has seen. Each
 * client (address and port) is shown to the guest as the gateway address and a port of its own, the
 * client's port when free, so the guest's reply to that port finds the client again. Associations
 * are bounded (the least recently used is dropped) and expire like NAT flows.
 * Owned by the gateway's event loop, except the immutable fields.
 */
final class PortForwardBinding {
    static final int MAX_CLIENTS = 256;
    private static final int FIRST_SPARE_PORT = 49152;

    final PortForward forward;
    final int guestAddress;
    final int guestPort;
    Channel channel;
    InetSocketAddress boundAddress;

    private final HashMap<InetSocketAddress, Client> byClient = new HashMap<>();
    private final HashMap<Integer, Client> byShownPort = new HashMap<>();

    static final class Client {
        final InetSocketAddress address;
        final int shownPort;
        long lastActiveNanos;

        Client(InetSocketAddress address, int shownPort, long nowNanos) {
            this.address = address;
            this.shownPort = shownPort;
            this.lastActiveNanos = nowNanos;
        }
    }

    PortForwardBinding(PortForward forward, int guestAddress) {
        this.forward = forward;
        this.guestAddress = guestAddress;
        this.guestPort = forward.guestPort();
    }

    /** The association of host client {@code address}, made now if new; marked used. */
    Client associate(InetSocketAddress address, long nowNanos) {
        Client client = byClient.get(address);
        if (client == null) {
            if (byClient.size() >= MAX_CLIENTS) {
                remove(leastRecentlyUsed());
            }
            client = new Client(address, freePort(address.getPort()), nowNanos);
            byClient.put(address, client);
            byShownPort.put(client.shownPort, client);
        }
        client.lastActiveNanos = nowNanos;
        return client;
    }

    /** The client the guest reaches at gateway port {@code shownPort}, marked used; null when none. */
    Client clientShownAs(int shownPort, long nowNanos) {
        Client client = byShownPort.get(shownPort);
        if (client != null) {
            client.lastActiveNanos = nowNanos;
        }
        return client;
    }

    int expire(long nowNanos, long idleTimeoutNanos) {
        int expired = 0;
        for (Iterator<Client> it = byClient.values().iterator(); it.hasNext(); ) {
            Client client = it.next();
            if (nowNanos - client.lastActiveNanos >= idleTimeoutNanos) {
                it.remove();
                byShownPort.remove(client.shownPort);
                expired++;
            }
        }
        return expired;
    }

    int clients() {
        return byClient.size();
    }

    private int freePort(int preferred) {
        if (preferred != 0 && !byShownPort.containsKey(preferred)) {
            return preferred;
        }
        for (int port = FIRST_SPARE_PORT; port <= 65535; port++) {
            if (!byShownPort.containsKey(port)) {
                return port;
            }
        }
        throw new IllegalStateException("no spare port");   // unreachable: at most MAX_CLIENTS are taken
    }

    private Client leastRecentlyUsed() {
        Client oldest = null;
        for (Client client : byClient.values()) {
            if (oldest == null || client.lastActiveNanos - oldest.lastActiveNanos < 0) {
                oldest = client;
            }
        }
        return oldest;
    }

    private void remove(Client client) {
        byClient.remove(client.address);
        byShownPort.remove(client.shownPort);
    }

    @Override
    public String toString() {
        return "PortForwardBinding[" + forward + (boundAddress == null ? "" : " bound " + boundAddress) + "]";
    }
}
