// Generated run names in MLflow's `<adjective>-<noun>-<number>` shape, from our own word lists.
import { randomInt } from "../util/random.ts"

const adjectives =
  "able agile amber ample bold brave bright brisk calm clever cool crisp curious daring deft eager early earnest fair fancy fast fearless fleet fluent gentle glad grand happy hardy honest humble jolly keen kind lively loyal lucky merry mighty modest neat nimble noble patient placid polite proud quick quiet rapid ready regal rustic serene sharp shiny silent sleek smart snappy solid spry steady stellar sturdy sunny swift tidy tranquil trusty upbeat valiant vivid warm wise witty zesty"
    .split(" ")
const nouns =
  "ant bass bat bear bee bison boar carp cat colt crab crane crow deer dog dove duck eagle eel elk falcon finch fox frog gnu goat goose gull hare hawk hen heron horse ibis jay koala lark lemur lion lynx mink mole moose moth mouse newt owl ox panda perch pig pony puma quail ram raven robin seal shark sheep shrew skink sloth snail snake sow squid stag stoat swan tapir tern tiger toad trout vole wasp whale wolf wren yak zebra"
    .split(" ")

const pick = (words: string[]): string => words[randomInt(words.length)] as string

export const generateRunName = (): string => `${pick(adjectives)}-${pick(nouns)}-${randomInt(1000)}`
