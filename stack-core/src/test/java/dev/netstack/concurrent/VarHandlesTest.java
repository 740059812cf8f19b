package dev.netstack.concurrent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.junit.jupiter.api.Test;

class VarHandlesTest {
    @SuppressWarnings("unused")   // through the handle
    private long count;

    @Test
    void findsAPrivateFieldOfTheLookupsClass() {
        VarHandle handle = VarHandles.field(MethodHandles.lookup(), "count", long.class);
        handle.setRelease(this, 42L);
        assertThat((long) handle.getAcquire(this)).isEqualTo(42L);
    }

    @Test
    void aMissingFieldFailsAsAStaticInitialiserShould() {
        assertThatThrownBy(() -> VarHandles.field(MethodHandles.lookup(), "count", int.class))
                .isInstanceOf(ExceptionInInitializerError.class)
                .hasCauseInstanceOf(NoSuchFieldException.class);
    }
}
