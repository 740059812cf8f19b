package dev.netstack.examples;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.atomic.AtomicInteger;

/** Runs {@code netstack} subcommands in this JVM with captured output. */
final class CommandRunner {
    private CommandRunner() {
    }

    record Result(int exitCode, String out, String err) {
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = NetstackCommand.newCommandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
        return new Result(exitCode, out.toString(), err.toString());
    }

    /** A command running on a thread of its own, whose output can be read while it runs. */
    static final class Background {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final AtomicInteger exitCode = new AtomicInteger(-1);
        final Thread thread;

        Background(String... args) {
            thread = new Thread(() -> exitCode.set(NetstackCommand.newCommandLine(new PrintWriter(out, true),
                    new PrintWriter(err, true)).execute(args)), "netstack-" + args[0]);
            thread.start();
        }

        /** Waits until the output contains {@code text}; returns the output so far. */
        String awaitOut(String text, long timeoutMillis) throws InterruptedException {
            return await(out, text, timeoutMillis);
        }

        String awaitErr(String text, long timeoutMillis) throws InterruptedException {
            return await(err, text, timeoutMillis);
        }

        private String await(StringWriter writer, String text, long timeoutMillis) throws InterruptedException {
            long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
            while (!writer.toString().contains(text)) {
                if (System.nanoTime() > deadline || !thread.isAlive() && !writer.toString().contains(text)) {
                    throw new AssertionError("no \"" + text + "\" in the output:\n" + out + "\nstderr:\n" + err);
                }
                Thread.sleep(10);
            }
            return writer.toString();
        }

        /** Interrupts the command (as Ctrl-C does) and returns its exit status. */
        int stop() throws InterruptedException {
            thread.interrupt();
            thread.join(10_000);
            if (thread.isAlive()) {
                throw new AssertionError("the command did not stop when interrupted:\n" + out);
            }
            return exitCode.get();
        }

        int join() throws InterruptedException {
            thread.join(30_000);
            return exitCode.get();
        }
    }
}
