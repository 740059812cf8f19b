package dev.netstack.socket;

/** The socket was closed, possibly while this thread was blocked in it. */
public class SocketClosedException extends NetworkException {
    private static final long serialVersionUID = 1L;

    public SocketClosedException(String message) {
        super(message);
    }
}
