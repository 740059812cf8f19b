package dev.netstack.socket;

/**
 * Base of the errors the public API raises. Each subclass names one thing a user can act on; the
 * message says what happened and with which address or port.
 */
public class NetworkException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NetworkException(String message) {
        super(message);
    }

    public NetworkException(String message, Throwable cause) {
        super(message, cause);
    }
}
