package dev.netstack.socket;

/** No echo reply came back within the timeout. */
public class PingTimeoutException extends NetworkException {
    private static final long serialVersionUID = 1L;

    public PingTimeoutException(String message) {
        super(message);
    }
}
