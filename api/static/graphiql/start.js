// Amaan's own start-up script for GraphiQL (the rest of this folder is vendored unchanged).
// Every operation needs an API key: put it in the Headers tab as
// {"Authorization": "Bearer <your key>"}.
const EXAMPLE_QUERY = `# Amaan: differentially private counts of helpline cases.
# Put your key in the Headers tab below: {"Authorization": "Bearer <your key>"}
# estimate costs nothing; countCases spends ε (a repeat is free).
{
  datasets { items { slug title budgetRemaining versions { number firstMonth lastMonth } } next }
}
`;

const fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });

function AmaanGraphiQL() {
  return React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: EXAMPLE_QUERY,
    defaultHeaders: '{"Authorization": "Bearer "}',
    defaultEditorToolsVisibility: true,
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(AmaanGraphiQL),
);
