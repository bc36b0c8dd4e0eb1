/** Runs `make`, which reads the environment as it starts, with these variables in place of the environment's (undefined: unset). */
export function withVariables<T>(variables: Record<string, string | undefined>, make: () => T): T {
  const saved = Object.keys(variables).map((name) => [name, process.env[name]] as const);
  const put = (name: string, value: string | undefined) => {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  for (const [name, value] of Object.entries(variables)) put(name, value);
  try {
    return make();
  } finally {
    for (const [name, value] of saved) put(name, value);
  }
}
