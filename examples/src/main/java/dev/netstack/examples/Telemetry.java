package dev.netstack.examples;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Measurement;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The {@code --metrics} and {@code --metrics-port} options at work: the world's meter binders
 * bound to a {@link SimpleMeterRegistry} (printed as a table at exit) and to a Prometheus registry
 * served over HTTP on 127.0.0.1 by the JDK's own server.
 */
final class Telemetry implements AutoCloseable {
    private final boolean printTable;
    private final PrintWriter out;
    private final SimpleMeterRegistry table = new SimpleMeterRegistry();
    private final PrometheusMeterRegistry prometheus;
    private final HttpServer http;

    private Telemetry(boolean printTable, Integer prometheusPort, PrintWriter out) throws IOException {
        this.printTable = printTable;
        this.out = out;
        if (prometheusPort == null) {
            prometheus = null;
            http = null;
            return;
        }
        prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try {
            http = HttpServer.create(new InetSocketAddress("127.0.0.1", prometheusPort), 0);
        } catch (IOException e) {
            prometheus.close();
            throw new IOException("cannot serve metrics on 127.0.0.1:" + prometheusPort + ": " + e.getMessage(), e);
        }
        http.createContext("/", exchange -> {
            byte[] body = prometheus.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream response = exchange.getResponseBody()) {
                response.write(body);
            }
        });
        http.start();
    }

    /** Starts what the options ask for (possibly nothing). */
    static Telemetry start(boolean printTable, Integer prometheusPort, PrintWriter out) throws IOException {
        return new Telemetry(printTable, prometheusPort, out);
    }

    /** The port the Prometheus endpoint listens on, or -1. */
    int prometheusPort() {
        return http == null ? -1 : http.getAddress().getPort();
    }

    void bind(List<MeterBinder> binders) {
        for (MeterBinder binder : binders) {
            if (printTable) {
                binder.bindTo(table);
            }
            if (prometheus != null) {
                binder.bindTo(prometheus);
            }
        }
    }

    /** The table {@code --metrics} prints: one row per meter with a non-zero value. */
    static void printTable(SimpleMeterRegistry registry, PrintWriter out) {
        List<String[]> rows = new ArrayList<>();
        int zeros = 0;
        List<Meter> meters = new ArrayList<>(registry.getMeters());
        meters.sort(Comparator.comparing((Meter m) -> m.getId().getName()).thenComparing(m -> tags(m)));
        for (Meter meter : meters) {
            double value = 0;
            for (Measurement measurement : meter.measure()) {
                value = measurement.getValue();   // counters and gauges have one measurement
                break;
            }
            if (value == 0 || Double.isNaN(value)) {
                zeros++;
                continue;
            }
            String unit = meter.getId().getBaseUnit();
            rows.add(new String[] {meter.getId().getName(), tags(meter), format(value), unit == null ? "" : unit});
        }
        int[] widths = {"METER".length(), "TAGS".length(), "VALUE".length()};
        for (String[] row : rows) {
            for (int i = 0; i < widths.length; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        String format = "%-" + widths[0] + "s  %-" + widths[1] + "s  %" + widths[2] + "s  %s%n";
        out.printf(format, "METER", "TAGS", "VALUE", "UNIT");
        for (String[] row : rows) {
            out.printf(format, (Object[]) row);
        }
        out.printf("(%d meters, %d at zero not shown)%n", meters.size(), zeros);
        out.flush();
    }

    private static String tags(Meter meter) {
        return meter.getId().getTags().stream().map(t -> t.getKey() + "=" + t.getValue())
                .collect(Collectors.joining(","));
    }

    private static String format(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15 ? Long.toString((long) value) : String.format("%.3f", value);
    }

    @Override
    public void close() {
        if (printTable) {
            out.println();
            out.println("--- metrics ---");
            printTable(table, out);
        }
        table.close();
        if (http != null) {
            http.stop(0);
        }
        if (prometheus != null) {
            prometheus.close();
        }
    }
}
