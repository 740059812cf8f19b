package dev.netstack.socket;

/** No route to the destination: it is off-subnet and no gateway is configured, or the stack has no address. */
public class NoRouteException extends NetworkException {
    private static final long serialVersionUID = 1L;

    public NoRouteException(String message) {
        super(message);
    }
}
