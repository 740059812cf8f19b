package dev.netstack.socket;

/** The datagram is larger than UDP over IPv4 can carry (65507 bytes of payload). */
public class MessageTooLongException extends NetworkException {
    private static final long serialVersionUID = 1L;

    public MessageTooLongException(String message) {
        super(message);
    }
}
