package dev.netstack.examples;

import dev.netstack.dns.DnsAnswer;
import dev.netstack.dns.DnsQuestionEntry;
import dev.netstack.dns.DnsResolver;
import dev.netstack.dns.DnsResponse;
import dev.netstack.dns.DnsTimeoutException;
import dev.netstack.wire.Ipv4Address;
import io.netty.handler.codec.dns.DnsRecordType;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code netstack dig}: one DNS query from the guest, printed in dig's layout. */
@Command(name = "dig", mixinStandardHelpOptions = true,
        description = {"Send one DNS query from the guest and print the response as dig does.",
            "The server is the gateway's 10.0.2.3 unless @SERVER says otherwise; TYPE is one of A (the default), "
                + "AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, ANY."})
final class DigCommand extends Subcommand {
    private static final Map<String, DnsRecordType> TYPES = Map.of(
            "A", DnsRecordType.A, "AAAA", DnsRecordType.AAAA, "CNAME", DnsRecordType.CNAME, "MX", DnsRecordType.MX,
            "NS", DnsRecordType.NS, "PTR", DnsRecordType.PTR, "SOA", DnsRecordType.SOA, "SRV", DnsRecordType.SRV,
            "TXT", DnsRecordType.TXT, "ANY", DnsRecordType.ANY);
    private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("EEE MMM dd HH:mm:ss z yyyy", Locale.ROOT);

    @Parameters(arity = "1..3", paramLabel = "NAME [TYPE] [@SERVER]", hideParamSyntax = true, description = "What to ask and whom.")
    List<String> arguments;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "5", description = "How long to wait (default: ${DEFAULT-VALUE}).")
    double timeoutSeconds;

    @Override
    int execute() throws Exception {
        String name = null;
        DnsRecordType type = null;
        Ipv4Address server = null;
        for (String argument : arguments) {
            if (argument.startsWith("@")) {
                if (server != null) {
                    throw usageError("more than one @SERVER: " + argument);
                }
                server = Addresses.parseIpv4(commandLine(), "@SERVER", argument.substring(1));
            } else if (name != null && type == null && TYPES.containsKey(argument.toUpperCase(Locale.ROOT))) {
                type = TYPES.get(argument.toUpperCase(Locale.ROOT));
            } else if (name == null) {
                name = argument;
            } else {
                throw usageError("unexpected argument '" + argument + "': not a record type (" + String.join(", ", TYPES.keySet()) + ")");
            }
        }
        if (name == null) {
            throw usageError("Missing required parameter: NAME");
        }
        if (!(timeoutSeconds > 0) || timeoutSeconds > 3600) {
            throw usageError("Invalid value for option '--timeout': " + timeoutSeconds);
        }
        type = type == null ? DnsRecordType.A : type;
        server = server == null ? GuestWorld.DNS : server;

        try (Session session = Session.open(this, GuestWorld.builder(), null)) {
            DnsResolver resolver = DnsResolver.builder(session.world().guest().stack()).server(server).build();
            PrintWriter out = out();
            out.println();
            out.println("; <<>> netstack dig <<>> " + String.join(" ", arguments));
            DnsResponse response;
            try {
                response = resolver.query(name, type, server, Duration.ofNanos((long) (timeoutSeconds * 1e9)));
            } catch (IllegalArgumentException e) {
                throw usageError("'" + name + "' is not a valid name: " + e.getMessage());
            } catch (DnsTimeoutException e) {
                out.println(";; communications error to " + server + "#53: timed out");
                out.println(";; no servers could be reached");
                return FAILED;
            }
            print(response, out);
            return OK;
        }
    }

    static void print(DnsResponse response, PrintWriter out) {
        out.println(";; global options: +cmd");
        out.println(";; Got answer:");
        out.printf(";; ->>HEADER<<- opcode: %s, status: %s, id: %d%n", response.opcodeName(), response.rcodeName(), response.id());
        out.printf(";; flags: %s; QUERY: %d, ANSWER: %d, AUTHORITY: %d, ADDITIONAL: %d%n", response.flagNames(),
                response.questions().size(), response.answers().size(), response.authorities().size(),
                response.additionals().size());
        out.println();
        List<DnsAnswer> pseudo = new ArrayList<>();
        List<DnsAnswer> additional = new ArrayList<>();
        for (DnsAnswer record : response.additionals()) {
            (DnsRecordType.OPT.equals(record.type()) ? pseudo : additional).add(record);
        }
        if (!pseudo.isEmpty()) {
            out.println(";; OPT PSEUDOSECTION:");
            DnsAnswer opt = pseudo.get(0);
            out.printf("; EDNS: version: %d, flags:%s; udp: %d%n", (opt.ttl() >>> 16) & 0xff,
                    (opt.ttl() & 0x8000) != 0 ? " do" : "", opt.dnsClass());
        }
        out.println(";; QUESTION SECTION:");
        for (DnsQuestionEntry question : response.questions()) {
            out.printf(";%s\t\t\t%s\t%s%n", question.name(), classOf(question.dnsClass()), question.type().name());
        }
        section(out, ";; ANSWER SECTION:", response.answers());
        section(out, ";; AUTHORITY SECTION:", response.authorities());
        section(out, ";; ADDITIONAL SECTION:", additional);
        out.println();
        out.printf(";; Query time: %d msec%n", response.queryTime().toMillis());
        out.printf(";; SERVER: %s#%d(%s) (UDP)%n", response.server(), response.serverPort(), response.server());
        out.println(";; WHEN: " + ZonedDateTime.now().format(WHEN));
        out.printf(";; MSG SIZE  rcvd: %d%n", response.messageLength());
        out.println();
    }

    private static void section(PrintWriter out, String title, List<DnsAnswer> records) {
        if (records.isEmpty()) {
            return;
        }
        out.println();
        out.println(title);
        for (DnsAnswer record : records) {
            out.printf("%s\t\t%d\t%s\t%s\t%s%n", record.name(), record.ttl(), record.className(), record.type().name(), record.data());
        }
    }

    private static String classOf(int dnsClass) {
        return dnsClass == DnsAnswer.CLASS_IN ? "IN" : "CLASS" + dnsClass;
    }
}
