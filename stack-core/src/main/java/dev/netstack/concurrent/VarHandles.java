package dev.netstack.concurrent;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/** Looking up a {@link VarHandle} for a field, for the classes that read or write one with explicit ordering. */
public final class VarHandles {
    private VarHandles() {
    }

    /**
     * The handle of the field {@code name} of type {@code type} in the class {@code lookup} was made
     * in; pass {@code MethodHandles.lookup()} from that class, so that private fields are reachable.
     *
     * @throws ExceptionInInitializerError when there is no such field (a class's static initialiser
     *                                     is where this is called)
     */
    public static VarHandle field(MethodHandles.Lookup lookup, String name, Class<?> type) {
        try {
            return lookup.findVarHandle(lookup.lookupClass(), name, type);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
