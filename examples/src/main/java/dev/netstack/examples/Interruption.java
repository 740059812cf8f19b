package dev.netstack.examples;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns SIGINT/SIGTERM into an interrupt of the command's thread, then holds the JVM's shutdown
 * until the command has printed its summary and closed what it opened ({@link #close()}), so
 * Ctrl-C ends a long-running command cleanly. In tests, interrupting the thread does the same.
 */
final class Interruption implements AutoCloseable {
    private static final long GRACE_SECONDS = 5;

    private final Thread worker = Thread.currentThread();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;
    private volatile boolean happened;

    private Interruption() {
        hook = new Thread(() -> {
            happened = true;
            worker.interrupt();
            try {
                finished.await(GRACE_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "netstack-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Arms the hook for the calling thread. */
    static Interruption onSignal() {
        return new Interruption();
    }

    /** True once a signal asked the process to stop. */
    boolean happened() {
        return happened;
    }

    @Override
    public void close() {
        finished.countDown();
        if (!happened) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already exiting: the hook runs and finds the latch open
            }
        }
    }
}
