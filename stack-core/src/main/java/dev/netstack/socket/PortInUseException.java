package dev.netstack.socket;

/** The local port (and address) is already bound by another socket. */
public class PortInUseException extends NetworkException {
    private static final long serialVersionUID = 1L;

    public PortInUseException(String message) {
        super(message);
    }
}
