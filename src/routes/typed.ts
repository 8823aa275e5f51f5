// Route plugins are typed by the TypeBox type provider (as fastify/demo does): a handler's
// request.body, params and query take their types from the route's schema, never from a cast.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

/** The instance a route plugin receives. */
export type RouteInstance = Parameters<FastifyPluginAsyncTypebox>[0]
