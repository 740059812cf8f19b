package dev.netstack.examples;

import dev.netstack.socket.NetworkException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * What every subcommand shares: the common options, the output streams picocli was given, and
 * the exit statuses. Bad input is a {@link ParameterException} (one line and the usage, status 2);
 * a failure at run time is one line on stderr and status 1, never a stack trace.
 */
abstract class Subcommand implements Callable<Integer> {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int INTERRUPTED = 130;

    @Spec
    CommandSpec spec;

    @Mixin
    CommonOptions common;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    CommandLine commandLine() {
        return spec.commandLine();
    }

    ParameterException usageError(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    /** The subcommand's work; returns the exit status. */
    abstract int execute() throws Exception;

    @Override
    public final Integer call() {
        try {
            return execute();
        } catch (ParameterException e) {
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return INTERRUPTED;
        } catch (NetworkException | IOException | UncheckedIOException | IllegalStateException | IllegalArgumentException e) {
            err().println("netstack " + spec.name() + ": " + e.getMessage());
            return FAILED;
        } catch (Exception e) {
            // not expected: still one line, with the exception's class to go on
            err().println("netstack " + spec.name() + ": " + e);
            return FAILED;
        } finally {
            out().flush();
            err().flush();
        }
    }
}
