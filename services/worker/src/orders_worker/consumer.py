"""The consumer: takes ExecuteOrder(s) messages, runs the pipeline, and decides retry or failure.

A message is acked only after, for each of its orders, the step's transaction committed and, on failure,
the retry or dead letter is confirmed by the broker; a message held at shutdown goes back to the queue.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelInvalidStateError
from pydantic import ValidationError

from orders_shared.amqp import publish
from orders_shared.contracts import ExecuteOrder, ExecuteOrders
from orders_shared.errors import VenueError
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.topology import DEAD_KEY, retry_key
from orders_worker.pipeline import Pipeline

log = get_logger()


@dataclass(slots=True)
class Consumer:
    """Feeds `orders.execute` into the pipeline, ``concurrency`` orders at a time.

    A message holds one order (`ExecuteOrder`: retries, the sweeper's) or several new ones (`ExecuteOrders`:
    the api's intake); either way each order takes a slot of its own.
    """

    queue: AbstractQueue
    orders: AbstractExchange
    pipeline: Pipeline
    metrics: Metrics
    max_attempts: int
    concurrency: int
    _tag: str | None = None
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    async def start(self) -> None:
        """Begin consuming."""
        self._tag = await self.queue.consume(self._on_message)

    async def stop(self, grace_s: float) -> None:
        """Stop taking messages, give the held ones ``grace_s`` to finish, hand the rest back."""
        if self._tag is not None:
            try:
                await self.queue.cancel(self._tag)
            except Exception:
                # Not fatal (closing the connection after the drain ends the consumer too), but a worker
                # that goes on receiving while it drains should say so.
                log.warning("consumer_cancel_failed", exc_info=True)
                self.metrics.internal_errors.labels(where="worker_settle").inc()
            self._tag = None
        if self._in_flight:
            log.info("worker_draining", in_flight=len(self._in_flight), grace_s=grace_s)
            _, pending = await asyncio.wait(self._in_flight, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            await self._handle(message)
        except Exception:
            # A retry or dead letter could not be published, the failure not stored, or the ack not sent:
            # hand the message back rather than hold its prefetch slot until the channel closes. Its
            # redelivery takes the orders over where they are; the queue's delivery limit dead-letters one
            # that always fails.
            log.error("message_handling_failed", exc_info=True)
            self.metrics.internal_errors.labels(where="worker").inc()
            await self._requeue(message)
        except BaseException:
            # Shutdown (cancelled), or anything else that ends the handling unsettled: the orders go back;
            # their compare-and-set state lets the next holder go on.
            await self._requeue(message)
            raise
        finally:
            self._in_flight.discard(task)

    async def _requeue(self, message: AbstractIncomingMessage) -> None:
        """Hand ``message`` back to the queue; if even the nack fails, make sure the broker takes it back."""
        try:
            await message.nack(requeue=True)
            return
        except Exception:
            self.metrics.internal_errors.labels(where="worker_settle").inc()
            if message.processed:
                # Acked, nacked or rejected already (e.g. the ack went out and then raised): not held.
                log.warning("message_requeue_failed", held=False, exc_info=True)
                return
            log.error("message_requeue_failed", held=True, exc_info=True)
        try:
            channel = message.channel
        except ChannelInvalidStateError:
            # The channel is closed, which is what makes a nack fail: the broker requeued what it held.
            return
        # Open, yet the nack failed (a write that failed before the connection noticed): closing the
        # channel is the one sure way to make the broker take back what it holds. The robust channel
        # reopens and consumes again; the other messages it held are redelivered, and taken over.
        try:
            async with asyncio.timeout(10):
                await channel.close()
        except Exception:
            self.metrics.internal_errors.labels(where="worker_settle").inc()
            log.error("channel_close_failed", exc_info=True)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        batch = message.type == ExecuteOrders.MESSAGE_TYPE
        try:
            commands = (
                ExecuteOrders.model_validate_json(message.body).orders()
                if batch
                else [ExecuteOrder.model_validate_json(message.body)]
            )
        except ValidationError:
            log.error("message_malformed", body=message.body[:200].decode(errors="replace"))
            self.metrics.dead_letters.inc()
            await message.reject(requeue=False)
            return
        redelivered = bool(message.redelivered)
        if redelivered:
            self.metrics.redeliveries.inc()
        if batch:
            # Every order settles before the message does: a plain gather would raise at the first failure
            # and have the message nacked (redelivered, maybe to this worker) while its other orders still
            # ran, unawaited, their errors unseen and their slots beyond the prefetch.
            outcomes = await asyncio.gather(
                *(self._attempt(command, redelivered) for command in commands), return_exceptions=True
            )
            errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            if errors:
                # An ExceptionGroup when they are all Exceptions, as they are unless an attempt was cancelled.
                raise BaseExceptionGroup("orders of the batch could not be settled", errors)
        else:
            await self._attempt(commands[0], redelivered)
        await message.ack()

    async def _attempt(self, command: ExecuteOrder, redelivered: bool) -> None:
        """One order's attempt in one of the worker's ``concurrency`` slots; a failure retried or recorded."""
        async with self._slots:
            self.metrics.worker_in_flight.inc()
            try:
                with structlog.contextvars.bound_contextvars(
                    order_id=str(command.order_id), attempt=command.attempt
                ):
                    try:
                        await self.pipeline.run(command, redelivered=redelivered)
                    except VenueError as exc:
                        await self._failed(command, exc.code, str(exc), retryable=exc.retryable)
                    except Exception as exc:
                        # Ours (a lost connection, a bug): worth another attempt, never a silent drop.
                        log.error("attempt_crashed", exc_info=True)
                        self.metrics.internal_errors.labels(where="worker").inc()
                        await self._failed(
                            command,
                            "INTERNAL_ERROR",
                            f"the attempt failed: {type(exc).__name__}",
                            retryable=True,
                        )
            finally:
                self.metrics.worker_in_flight.dec()

    async def _failed(self, command: ExecuteOrder, code: str, reason: str, *, retryable: bool) -> None:
        if retryable and command.attempt < self.max_attempts:
            self.metrics.retries.labels(reason=code).inc()
            log.warning("attempt_failed_will_retry", error_code=code, error=reason)
            retry = ExecuteOrder(order_id=command.order_id, attempt=command.attempt + 1)
            await publish(self.orders, retry_key(command.attempt), retry)
            return
        await self.pipeline.fail(command.order_id, code, reason, attempt=command.attempt)
        if retryable:
            # Raises if the broker refuses it: the message is then nacked (`_on_message`), and its
            # redelivery finds the order failed, stored above, and acks it.
            await publish(self.orders, DEAD_KEY, command)
            self.metrics.dead_letters.inc()
