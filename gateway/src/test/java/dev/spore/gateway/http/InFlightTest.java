package dev.spore.gateway.http;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;

/** The SIGTERM drain's logic: refuse new invocations, wait for admitted ones, never longer than the grace. */
class InFlightTest {

    @Test
    void drainWaitsForAdmittedInvocationsAndRefusesNewOnes() throws Exception {
        InFlight f = new InFlight();
        assertThat(f.enter()).isTrue();
        assertThat(f.enter()).isTrue();
        CountDownLatch draining = new CountDownLatch(1);
        CompletableFuture<Integer> drained = CompletableFuture.supplyAsync(() -> {
            draining.countDown();
            return f.drain(60_000);
        });
        draining.await();
        while (f.enter()) { // until the drain has begun: an admitted probe leaves at once
            f.leave();
            Thread.onSpinWait();
        }
        assertThat(drained).isNotDone();
        f.leave();
        assertThat(drained).isNotDone();
        assertThat(f.count()).isEqualTo(1);
        f.leave();
        assertThat(drained.get()).isZero();
        assertThat(f.enter()).as("still refusing after the drain").isFalse();
        assertThat(f.count()).isZero();
    }

    @Test
    void drainGivesUpAfterTheGraceAndSaysHowManyAreLeft() {
        InFlight f = new InFlight();
        assertThat(f.enter()).isTrue();
        assertThat(f.drain(50)).isEqualTo(1);
    }
}
